/**
 * Audit 6: the registry heartbeat with a long keepalive. The registry reaps a node after 3 minutes without a
 * heartbeat (reference §7.4) and the node re-registers only after 3 failed heartbeats. With the heartbeat paced
 * by a keepalive of 10 minutes the node was reaped between two heartbeats and stayed unresolvable for up to
 * 30 minutes after a registry restart. Only setInterval/clearInterval are faked (to step over minutes);
 * sockets, deadlines and the waits are real.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import type { Logger } from '../../src/coreapi/logger.js';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode } from '../../src/node/node.js';
import { startRegistry } from '../../src/registry/index.js';
import { waitFor, within } from '../helpers/wait.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A logger that counts the heartbeat failures the node reports. */
function countingLogger(): { logger: Logger; failures: () => number } {
  let n = 0;
  const noop = (): void => {};
  const logger: Logger = {
    trace: noop,
    debug: noop,
    info: noop,
    error: noop,
    warn: (a: unknown, b?: unknown) => {
      if (a === 'heartbeat failed' || b === 'heartbeat failed') n++;
    },
    child: () => logger,
  };
  return { logger, failures: () => n };
}

describe('audit6: heartbeat with a keepalive longer than the registry keeps a silent node', () => {
  it('a node with keepalive 10m re-registers within the 3 minutes the registry keeps a node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-audit6-hb-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    // The registries run on real timers (created before the fake ones).
    let reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
    const { port } = reg.address as { host: string; port: number };
    onTestFinished(() => reg.close());

    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { logger, failures } = countingLogger();
    const node = await createNode({
      logger,
      dataDir: join(dir, 'n'),
      ipc: false,
      trustManager: false,
      registry: `127.0.0.1:${port}`,
      keepalive: 600_000,
    });
    onTestFinished(() => node.stop());
    const sub = node.events.subscribe('node.reregistered');
    onTestFinished(() => sub.unsubscribe());
    let reregistered = false;
    void sub.next().then(
      () => (reregistered = true),
      () => {},
    );

    // The registry restarts without its state: the node's heartbeats fail from now on.
    await reg.close();
    reg = await startRegistry({ addr: `127.0.0.1:${port}`, logger: silentLogger });

    // Three minutes, one at a time (bounded): each must bring a heartbeat, the third failure a re-registration.
    for (let minute = 1; minute <= 3 && !reregistered; minute++) {
      await vi.advanceTimersByTimeAsync(60_000);
      await waitFor(
        () => failures() >= minute || reregistered,
        3000,
        `a heartbeat within minute ${minute} (failures so far: ${failures()})`,
      );
    }
    await within(
      (async () => {
        while (!reregistered) await new Promise((r) => setTimeout(r, 10));
      })(),
      3000,
      'node.reregistered',
    );
    expect(failures()).toBeGreaterThanOrEqual(3);
  });
});
