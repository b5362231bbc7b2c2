/**
 * Audit: stop() while start() is still loading trust.json or binding port 444. start() used to carry on after
 * stop() had returned: the manager went back to `running`, kept port 444 bound, and started its poll timer and
 * accept loop on a node that was shutting down.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrustManagerState } from '../../src/node/trust/index.js';
import { managerFor, startCluster, tempDir } from './helpers.js';

describe('trust manager lifecycle', () => {
  it('stop() during start() leaves the manager stopped and port 444 free', async () => {
    const [a] = await startCluster(1, { public: true });
    let polls = 0;
    const registry = new Proxy(a.registry, {
      get(target, key, receiver) {
        if (key === 'pollHandshakes') {
          return (...args: Parameters<typeof target.pollHandshakes>) => {
            polls++;
            return target.pollHandshakes(...args);
          };
        }
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    const m = managerFor(a, { storePath: join(tempDir(), 'trust.json'), registry, pollIntervalMs: 10 });
    const started = m.start();
    started.catch(() => undefined);
    await m.stop();
    expect(m.state).toBe(TrustManagerState.Stopped);
    const outcome = await started.then(
      () => 'resolved',
      (err: { code?: string }) => err.code,
    );
    expect(outcome).toBe('ERR_TRUST_UNAVAILABLE');
    expect(m.state).toBe(TrustManagerState.Stopped);
    // Port 444 is free again, nothing polls, and the API refuses work.
    const l = await a.streams.listen(444);
    await l.close();
    expect(polls).toBe(0);
    await expect(m.send(a.nodeId + 1, 'x')).rejects.toMatchObject({ code: 'ERR_TRUST_UNAVAILABLE' });
  });
});
