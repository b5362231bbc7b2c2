/**
 * Audit: every inbound handshake stream and every registry call of the trust manager listens on the manager's
 * one stop signal. With more than ten of them at once (legitimate with many peers, or caused by remote peers
 * at will), Node printed a MaxListenersExceededWarning ("possible memory leak") for that signal.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { MAX_INBOUND_PER_PEER } from '../../src/node/trust/constants.js';
import { startCluster, startManager } from './helpers.js';

describe('trust manager stop signal', () => {
  it('many concurrent inbound handshakes raise no MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w);
    };
    process.on('warning', onWarning);
    onTestFinished(() => {
      process.off('warning', onWarning);
    });
    const [a, ...peers] = await startCluster(5, { public: true });
    const ta = await startManager(a, { readTimeoutMs: 5000 });
    const held: Stream[] = [];
    for (const p of peers) {
      for (let i = 0; i < MAX_INBOUND_PER_PEER; i++) {
        const s = await p.streams.dial(a.addr, 444, { timeoutMs: 3000 });
        s.on('error', () => {});
        s.write('{"type":');
        held.push(s);
      }
    }
    expect(held.length).toBeGreaterThan(10);
    // Each stream is being read (none refused); then the manager stops, resetting them.
    const closed = held.map((s) => new Promise((r) => s.once('close', r)));
    await ta.stop();
    await Promise.all(closed);
    expect(ta.counters().dropped.overloaded).toBe(0);
    // Warnings are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((w) => w.message)).toEqual([]);
  });
});
