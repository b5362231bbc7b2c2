/**
 * Audit 5: a flood of tiny in-order segments while the application does not read. The receive window counts
 * payload bytes, so a peer (hostile, or an application writing single bytes with Nagle off) may fill it with
 * 1-byte segments: before the fix each became its own chunk in the readable buffer, a Buffer object and a list
 * entry (some hundred bytes of heap) per byte of window, so a 4 MiB window (8 MiB with the overrun
 * allowance) could hold over a gigabyte. Small segments that queue behind unread data are now coalesced.
 *
 * Real nodes over UDP; node A's tunnel injects the segments for A's established connection.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/streams/connection.js';
import { DEFAULT_RECV_WINDOW } from '../../src/streams/constants.js';
import { FLAG_ACK, FLAG_FIN, PROTO_STREAM, makePacket } from '../../src/transport/packet.js';
import { waitFor, within } from '../helpers/wait.js';
import { pair } from './helpers.js';

/** Chunks waiting in a Readable's buffer (Node 20: an array read from `bufferIndex`). */
function bufferedChunks(s: Connection): number {
  const st = (s as unknown as { _readableState: { buffer: { length: number }; bufferIndex?: number } })
    ._readableState;
  return st.buffer.length - (st.bufferIndex ?? 0);
}

/** A connected pair with B paused, and a function injecting 1-byte in-order segments from A's side. */
async function setup(): Promise<{
  bc: Connection;
  inject: (n: number, fin: boolean) => Promise<void>;
  close: () => Promise<void>;
}> {
  const { a, b } = await pair({ pmtuDiscovery: false });
  const l = await b.streams.listen(1000);
  const [as, bs] = await Promise.all([a.streams.dial(b.addr, 1000), l.accept()]);
  const ac = as as Connection;
  const bc = bs as Connection;
  await waitFor(() => bc.state === 'ESTABLISHED' && ac.state === 'ESTABLISHED', 5000, 'established');
  bc.pause();
  const p = makePacket({
    protocol: PROTO_STREAM,
    src: ac.localAddr,
    dst: ac.remoteAddr,
    srcPort: ac.localPort,
    dstPort: ac.remotePort,
  });
  const base = bc.rcvNxt;
  const inject = async (n: number, fin: boolean): Promise<void> => {
    const start = bc.stats().segsRecv;
    for (let i = 0; i < n; i += 100) {
      for (let j = i; j < Math.min(n, i + 100); j++) {
        p.flags = FLAG_ACK | (fin && j === n - 1 ? FLAG_FIN : 0);
        p.seq = (base + j) >>> 0;
        p.ack = ac.rcvNxt;
        p.window = 16;
        p.payload = Buffer.from([j & 0xff]);
        a.tunnel.send(p);
      }
      const want = start + Math.min(i + 100, n);
      await waitFor(() => bc.stats().segsRecv >= want, 5000, `segment ${want} received`);
    }
    await waitFor(() => bc.stats().bytesRecv >= n, 5000, 'all bytes received');
  };
  return { bc, inject, close: () => l.close() };
}

function expectBytes(all: Buffer, n: number): void {
  expect(all.length).toBe(n);
  for (let j = 0; j < n; j++) if (all[j] !== (j & 0xff)) expect(`byte ${j}: ${all[j]}`).toBe(j & 0xff);
}

describe('audit5: tiny in-order segments', () => {
  it('1-byte segments queued behind unread data do not become one chunk each', async () => {
    const { bc, inject, close } = await setup();
    const N = 6000;
    await inject(N, false);
    // Before the fix: 6000 chunks.
    expect(bufferedChunks(bc)).toBeLessThanOrEqual(16);
    // The window accounts for every byte, held or not.
    expect(bc.stats().recvWindow).toBeLessThanOrEqual(DEFAULT_RECV_WINDOW - N + 4095);
    const got: Buffer[] = [];
    let chunk: Buffer | null;
    while ((chunk = bc.read() as Buffer | null) !== null) got.push(chunk);
    expectBytes(Buffer.concat(got), N);
    await close();
  }, 20_000);

  it('coalesced bytes come before the end of the stream, in order, with async iteration', async () => {
    const { bc, inject, close } = await setup();
    const N = 3000;
    await inject(N, true);
    expect(bufferedChunks(bc)).toBeLessThanOrEqual(16);
    const got: Buffer[] = [];
    for await (const c of bc) got.push(c as Buffer);
    expectBytes(Buffer.concat(got), N);
    await close();
  }, 20_000);

  it("a 'readable' listener that waits for enough bytes without reading still gets them", async () => {
    const { bc, inject, close } = await setup();
    const N = 50;
    const got: Buffer[] = [];
    let rec = 0;
    const enough = new Promise<void>((resolve) => {
      bc.on('readable', () => {
        // A parser waiting for 10-byte records, reading only when a whole one is there.
        while (bc.readableLength >= 10) {
          got.push(bc.read(10) as Buffer);
          if (++rec === N / 10) resolve();
        }
      });
    });
    await inject(N, false);
    await within(enough, 3000, 'five 10-byte records');
    expectBytes(Buffer.concat(got), N);
    await close();
  });
});
