/**
 * `pilot daemon stop` waits for the daemon's own stop before SIGKILL: its default grace period must be longer
 * than the bound the daemon gives its stop (services, FIN to streams, deregistering, removing the socket), or a
 * daemon that is slow but within its bound is killed half-way (socket and registration left behind).
 */
import { describe, expect, it } from 'vitest';
import { allCommands } from '../../cmd/commands/index.js';
import { parseDuration } from '../../src/client.js';
import { DAEMON_STOP_TIMEOUT_MS } from '../../src/node/daemon.js';

describe('daemon stop grace period', () => {
  it('defaults to longer than the daemon’s own stop bound', () => {
    const spec = allCommands.find((c) => c.name === 'daemon stop');
    const timeout = spec?.flags?.find((f) => f.name === 'timeout');
    expect(typeof timeout?.default).toBe('string');
    expect(parseDuration(timeout!.default as string, 'timeout')).toBeGreaterThan(DAEMON_STOP_TIMEOUT_MS);
  });
});
