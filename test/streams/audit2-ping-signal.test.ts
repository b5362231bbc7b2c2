/**
 * Audit 2: ping() with a long-lived AbortSignal (one controller for a session's lifetime) must not leave a
 * listener on the signal per ping: each kept the settled promise's closures alive until the signal died.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pair } from './helpers.js';

describe('audit2: ping and AbortSignal', () => {
  it('a settled ping removes its abort listener', async () => {
    const { a, b } = await pair();
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) {
      const rtt = await a.streams.ping(b.addr, { signal: ac.signal, timeoutMs: 2000 });
      expect(rtt).toBeGreaterThanOrEqual(0);
    }
    // One that times out settles too.
    await expect(
      a.streams.ping({ network: 0, node: 99 }, { signal: ac.signal, timeoutMs: 50 }),
    ).rejects.toMatchObject({ code: 'ERR_DIAL_TIMEOUT' });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('a ping with an already aborted signal rejects with ERR_ABORTED at once', async () => {
    const { a, b } = await pair();
    await expect(
      a.streams.ping(b.addr, { signal: AbortSignal.abort(), timeoutMs: 2000 }),
    ).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
  });
});
