/**
 * A receiver whose window closed announces it again as soon as the application drains its buffer, in both
 * ways of reading: a paused stream that is resumed (flowing mode, what the daemon's IPC forwarding does) and
 * `read()` in paused mode. Node calls `_read()` only once per `push()`, and no push comes while the sender
 * waits for the window, so without the announcement the transfer would hang until a zero-window probe.
 * The probes are pushed out of reach here (a minute), so only the window update can unblock the sender.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/index.js';
import { waitFor } from '../helpers/wait.js';
import { pair, randomData } from './helpers.js';

const WINDOW = 128 * 1024;
const TOTAL = 1024 * 1024;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function expectAll(chunks: Buffer[], data: Buffer): void {
  const got = Buffer.concat(chunks);
  expect(got.length).toBe(TOTAL);
  expect(sha(got)).toBe(sha(data));
}

async function blockedPair(): Promise<{ c: Stream; s: Stream; data: Buffer; written: Promise<void> }> {
  const { a, b } = await pair({
    recvWindow: WINDOW,
    sendBuffer: 256 * 1024,
    zeroWindowProbeMinMs: 60_000,
    zeroWindowProbeMaxMs: 60_000,
    pmtuDiscovery: false,
  });
  const l = await b.streams.listen(1000);
  const accepted = l.accept();
  const c = await a.streams.dial(b.addr, 1000);
  const s = await accepted;
  s.pause();
  const data = randomData(TOTAL, 7);
  const written = (async () => {
    for (let off = 0; off < data.length; off += 16 * 1024) {
      if (!c.write(data.subarray(off, off + 16 * 1024))) await once(c, 'drain');
    }
    c.end();
  })();
  // The receiver holds a window's worth and the sender sees (almost) no window left.
  await waitFor(
    () => c.stats().peerRecvWindow < c.stats().mss && c.stats().inFlight === 0,
    10_000,
    'blocked',
  );
  expect(s.readableLength).toBeGreaterThan(WINDOW / 2);
  return { c, s, data, written };
}

describe('window reopening', () => {
  it('a paused stream that resumes reopens the window without waiting for a probe', async () => {
    const { s, data, written } = await blockedPair();
    const chunks: Buffer[] = [];
    s.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(s, 'end');
    s.resume();
    await ended;
    await written;
    expectAll(chunks, data);
  }, 20_000);

  it('read() in paused mode reopens the window without waiting for a probe', async () => {
    const { s, data, written } = await blockedPair();
    const chunks: Buffer[] = [];
    const ended = once(s, 'end');
    s.on('readable', () => {
      let chunk: Buffer | null;
      while ((chunk = s.read() as Buffer | null) !== null) chunks.push(chunk);
    });
    await ended;
    await written;
    expectAll(chunks, data);
  }, 20_000);
});
