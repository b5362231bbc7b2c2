/**
 * Fault-injection scenarios without faults (issue 3): handshake, sequential large transfers on one node pair,
 * 2,000 multiplexed streams, Nagle with tiny writes, and a writer that ends right after a large write.
 * Every pair talks through the UDP relay so the same path is exercised as in the faulty scenarios.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../../src/coreapi/streams.js';
import {
  expectCleanedUp,
  faultPair,
  note,
  randomData,
  readAll,
  sha256,
  transfer,
  within,
} from './fault-helpers.js';

const MiB = 1024 * 1024;

function echo(s: Stream): void {
  s.on('data', (c: Buffer) => s.write(c));
  s.on('end', () => s.end());
  s.on('error', () => {});
}

describe('faults: clean path', () => {
  it('handshake: 1 KiB round trip', async () => {
    const p = await faultPair();
    const l = await p.b.streams.listen(7);
    void l.accept().then(echo, () => {});
    const c = await p.a.streams.dial(p.b.addr, 7);
    const data = randomData(1024, 11);
    const got = readAll(c);
    c.end(data);
    expect(sha256(await within(got, 5000, 'echo'))).toBe(sha256(data));
    await expectCleanedUp(p);
  });

  it('transfers 2, 3 and 5 MiB in sequence on one node pair', async () => {
    const p = await faultPair();
    let port = 1000;
    for (const size of [2, 3, 5]) {
      const data = randomData(size * MiB, size);
      const r = await transfer(p, port++, data, { timeoutMs: 15_000 });
      note(`clean ${size} MiB: ${r.ms.toFixed(0)} ms (${((size * MiB) / r.ms / 1000).toFixed(1)} MB/s)`);
    }
    await expectCleanedUp(p);
  });

  it('multiplexes 2,000 small streams on one node pair', async () => {
    const n = 2000;
    const p = await faultPair({
      streams: { maxConnsPerPort: 8192, maxConnsTotal: 16384, acceptQueue: 4096, timeWaitMs: 2000 },
    });
    const l = await p.b.streams.listen(2000);
    let accepted = 0;
    void (async () => {
      for (;;) {
        let s: Stream;
        try {
          s = await l.accept();
        } catch {
          return;
        }
        accepted++;
        void readAll(s).then(
          (got) => s.end(createHash('sha256').update(got).digest()),
          () => s.destroy(),
        );
      }
    })();
    const t0 = performance.now();
    const failures: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const payload = Buffer.from(`stream ${i} `.repeat(1 + (i % 17)));
        try {
          const c = await p.a.streams.dial(p.b.addr, 2000);
          const reply = readAll(c);
          c.end(payload);
          const h = await within(reply, 10_000, `stream ${i}`);
          if (!h.equals(createHash('sha256').update(payload).digest())) failures.push(`${i}: wrong hash`);
        } catch (e) {
          failures.push(`${i}: ${(e as Error & { code?: string }).code ?? (e as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 128 }, worker));
    note(`2,000 streams: ${(performance.now() - t0).toFixed(0)} ms`);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(accepted).toBe(n);
    await l.close();
    await expectCleanedUp(p);
  });

  it('Nagle: 1,000 tiny writes arrive as the exact bytes', async () => {
    const p = await faultPair();
    const l = await p.b.streams.listen(3000);
    const recv = l.accept().then(async (s) => {
      const got = await readAll(s);
      s.end();
      return got;
    });
    const c = await p.a.streams.dial(p.b.addr, 3000);
    void readAll(c).catch(() => {});
    const parts: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const b = Buffer.from(`${i},`);
      parts.push(b);
      c.write(b);
    }
    c.end();
    const got = await within(recv, 10_000, 'tiny writes');
    expect(got.equals(Buffer.concat(parts))).toBe(true);
    const st = c.stats();
    note(`Nagle: 1,000 writes -> ${st.segsSent} segments`);
    // Coalescing happened (otherwise one segment per write).
    expect(st.segsSent).toBeLessThan(1000);
    await expectCleanedUp(p);
  });

  it('a writer that writes 256 KiB and ends at once delivers every byte', async () => {
    const p = await faultPair();
    const data = randomData(256 * 1024, 5);
    await transfer(p, 4000, data);
    await expectCleanedUp(p);
  });

  // Regression, fixed (src/streams/connection.ts, #onData): the in-order path calls #deliver(data) (Readable.push, which
  // emits 'data' synchronously in flowing mode) *before* advancing #rcvNxt. An application that answers inside
  // its 'data' handler (any echo / request-response server) sends its reply with the stale ACK number, and
  // #emit() then clears #ackPending, after which #onData increments it and arms the delayed-ACK timer. So the
  // peer's data is acknowledged only by the delayed ACK (40 ms by default), and because FIN waits until all
  // data is acknowledged, every request/response stream takes ~40 ms extra to close. Trace (1 KiB echo,
  // then A.end()): 0 ms A end() / 39.8 ms B> ACK (the delayed ACK) / 40.5 ms A> FIN / 41.2 ms B> FIN.
  // Fix: advance #rcvNxt (and drain the reassembly buffer) before pushing, i.e. collect the chunks, update
  // the sequence state, then push them.
  it('a reply sent from the data handler acknowledges the request (no delayed-ACK wait)', async () => {
    const p = await faultPair({ streams: { delayedAckMs: 2000 } });
    const l = await p.b.streams.listen(7);
    void l.accept().then(echo, () => {});
    const c = await p.a.streams.dial(p.b.addr, 7);
    const got = readAll(c);
    c.write(randomData(1024, 12));
    await within(new Promise((r) => c.once('data', r)), 5000, 'echo');
    // The reply itself must have carried the acknowledgement of the request.
    await new Promise((r) => setImmediate(r));
    const inFlight = c.stats().inFlight;
    const t0 = performance.now();
    c.end();
    await within(got, 5000, 'close');
    const closeMs = performance.now() - t0;
    note(
      `echo reply: ${inFlight} bytes still unacknowledged after the reply, close took ${closeMs.toFixed(0)} ms`,
    );
    expect(inFlight).toBe(0);
    // Waiting for the delayed ACK would take 2 s; the margin below that absorbs a stalled test process.
    expect(closeMs).toBeLessThan(1000);
    await expectCleanedUp(p);
  });
});
