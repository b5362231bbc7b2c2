/**
 * `pilot ping` without a daemon fails at once with the daemon's error and hint, instead of pinging `--count`
 * times and blaming the remote node ("is the node online, and does it run the echo service?").
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, cliBundle, errorEnvelope, runCli, tempDir } from './helpers.js';

const tmp = tempDir();
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: join(tmp.dir, 'none.sock') });

beforeAll(async () => {
  await cliBundle();
});
afterAll(() => tmp.cleanup());

describe('pilot ping without a daemon', () => {
  it('is not_running with the daemon hint, without waiting out the pings', async () => {
    const t0 = Date.now();
    const r = await runCli(['--json', 'ping', '7', '--count', '5', '--interval', '2s'], { env });
    expect(r.code).toBe(1);
    const e = errorEnvelope(r);
    expect(e.code).toBe('not_running');
    expect(e.message).toContain('none.sock');
    expect(e.hint).toContain('pilot daemon start');
    // Five pings 2 s apart would take 8 s.
    expect(Date.now() - t0).toBeLessThan(6000);
  });
});
