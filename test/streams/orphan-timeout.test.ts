/**
 * A stream the application destroyed gracefully (after the peer's end, as `for await` does) keeps delivering its
 * data and FIN as an orphan. A peer that answers every zero-window probe but never opens its window used to keep
 * such a connection alive forever: nothing can end it once the application let go. It is now reset after
 * `orphanTimeoutMs` without progress; a connection the application still holds is left alone.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import type { Connection } from '../../src/streams/connection.js';
import { node } from './helpers.js';

async function stuckPair(orphanTimeoutMs: number): Promise<{ a: Stream; b: Stream; stacks: () => number }> {
  const streams = { recvWindow: 4096, orphanTimeoutMs, zeroWindowProbeMinMs: 20, zeroWindowProbeMaxMs: 40 };
  const na = await node(1, { streams });
  const nb = await node(2, { streams });
  na.addPeer(nb.peerEntry());
  nb.addPeer(na.peerEntry());
  const l = await nb.streams.listen(1000);
  const [a, b] = await Promise.all([na.streams.dial(nb.addr, 1000), l.accept()]);
  b.on('error', () => {});
  b.pause(); // B never reads: its 4 KiB window closes and stays closed, while it answers probes
  b.end(); // B is done sending: A sees end-of-stream
  a.resume();
  await once(a, 'end');
  a.write(Buffer.alloc(256 * 1024, 1)); // far more than B's window
  return { a, b, stacks: () => na.streams.connections().length };
}

describe('an orphaned stream whose peer never opens its window', () => {
  it('is reset after orphanTimeoutMs without progress', async () => {
    const { a, b, stacks } = await stuckPair(300);
    const closed = new Promise<void>((resolve) => b.once('close', () => resolve()));
    a.destroy(); // graceful: the peer already ended, so the data and FIN are handed over
    await closed;
    expect((b as Stream & { closeError?: { code?: string } }).closeError?.code).toBe('ERR_CONNECTION_RESET');
    expect(stacks()).toBe(0);
  }, 10_000);

  it('is not touched while the application still holds the stream', async () => {
    const { a, b } = await stuckPair(300);
    // However long it stays stuck, a held stream never counts as a stalled orphan (the sweep's test).
    expect((a as Connection).orphanStalledMs(performance.now() + 1e9)).toBe(0);
    expect(a.destroyed).toBe(false);
    expect(b.destroyed).toBe(false);
    a.on('error', () => {});
    a.destroy(new Error('done'));
  }, 10_000);
});
