/**
 * Fault-injection scenarios with loss and corruption (issue 3): handshakes and transfers through a relay that
 * drops or bit-flips packets. Corrupted frames fail AES-GCM in the tunnel and are dropped, so corruption
 * behaves like loss one layer up. Content is verified by SHA-256.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../../src/coreapi/streams.js';
import type { StreamStackOptions } from '../../../src/streams/stack.js';
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

/** Retransmission settings that ride out heavy loss quickly (30 % each way loses half the round trips). */
const HEAVY_LOSS: Partial<StreamStackOptions> = {
  synRtoMs: 200,
  synRtoMaxMs: 800,
  dialTimeoutMs: 30_000,
  initialRtoMs: 300,
  minRtoMs: 100,
  maxRtoMs: 800,
  maxRetransmits: 40,
  timeWaitMs: 3000,
};

/**
 * Internet-sized segments (no path-MTU probing up to 16 KiB): a 2 MiB transfer is ~1,500 datagrams, so a
 * 2 % loss rate means dozens of holes rather than a handful.
 */
const SMALL_SEGMENTS: Partial<StreamStackOptions> = { pmtuDiscovery: false };

function echo(s: Stream): void {
  s.on('data', (c: Buffer) => s.write(c));
  s.on('end', () => s.end());
  s.on('error', () => {});
}

/** `n` concurrent connections that each dial and echo 1 KiB; returns failures and the slowest time. */
async function manyHandshakes(
  p: Awaited<ReturnType<typeof faultPair>>,
  n: number,
): Promise<{ failures: string[]; slowest: number }> {
  const l = await p.b.streams.listen(7);
  void (async () => {
    for (;;) {
      try {
        echo(await l.accept());
      } catch {
        return;
      }
    }
  })();
  const failures: string[] = [];
  let slowest = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const t0 = performance.now();
      const data = randomData(1024, 100 + i);
      try {
        const c = await p.a.streams.dial(p.b.addr, 7);
        const got = readAll(c);
        c.end(data);
        const echoed = await within(got, 40_000, `conn ${i}`);
        if (sha256(echoed) !== sha256(data)) failures.push(`${i}: wrong data (${echoed.length} bytes)`);
      } catch (e) {
        failures.push(`${i}: ${(e as Error & { code?: string }).code ?? ''} ${(e as Error).message}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }),
  );
  await l.close();
  return { failures, slowest };
}

describe('faults: loss and corruption', () => {
  it('handshake loss: 50 connections at 30% loss each way all connect and echo 1 KiB', async () => {
    const p = await faultPair({ streams: HEAVY_LOSS, both: { drop: 0.3 }, seed: 31 });
    const { failures, slowest } = await manyHandshakes(p, 50);
    note(
      `handshake loss: slowest connection ${slowest.toFixed(0)} ms, relay ${JSON.stringify(p.relay.stats)}`,
    );
    expect(failures).toEqual([]);
    await expectCleanedUp(p, 10_000);
  });

  it('handshake corruption: 50 connections at 30% corruption each way all connect and echo 1 KiB', async () => {
    const p = await faultPair({ streams: HEAVY_LOSS, both: { corrupt: 0.3 }, seed: 32 });
    const { failures, slowest } = await manyHandshakes(p, 50);
    note(`handshake corruption: slowest ${slowest.toFixed(0)} ms, relay ${JSON.stringify(p.relay.stats)}`);
    expect(failures).toEqual([]);
    await expectCleanedUp(p, 10_000);
  });

  it('transfer loss: 2 MiB at 2% loss each way', async () => {
    const p = await faultPair({ streams: SMALL_SEGMENTS, both: { drop: 0.02 }, seed: 2 });
    const r = await transfer(p, 1000, randomData(2 * MiB, 21), { timeoutMs: 18_000 });
    const st = r.sent.stats();
    note(
      `2% loss 2 MiB: ${r.ms.toFixed(0)} ms, retransmits ${st.retransmits}, relay dropped ${p.relay.stats.up.dropped}`,
    );
    await expectCleanedUp(p);
  });

  it('transfer corruption: 2 MiB at 2% corruption each way', async () => {
    const p = await faultPair({ streams: SMALL_SEGMENTS, both: { corrupt: 0.02 }, seed: 3 });
    const r = await transfer(p, 1000, randomData(2 * MiB, 22), { timeoutMs: 18_000 });
    note(`2% corruption 2 MiB: ${r.ms.toFixed(0)} ms, retransmits ${r.sent.stats().retransmits}`);
    expect(p.relay.stats.up.corrupted).toBeGreaterThan(0);
    await expectCleanedUp(p);
  });

  it('SACK: with loss the sender receives SACKs and retransmits, the receiver sends SACKs', async () => {
    const p = await faultPair({ streams: SMALL_SEGMENTS, up: { drop: 0.05 }, seed: 4 });
    const r = await transfer(p, 1000, randomData(MiB, 23), { timeoutMs: 15_000 });
    const snd = r.sent.stats();
    const rcv = r.recv.stats();
    note(
      `SACK: sender sackRecv ${snd.sackRecv} retransmits ${snd.retransmits} fast ${snd.fastRetransmits}; receiver sackSent ${rcv.sackSent}`,
    );
    expect(snd.sackRecv).toBeGreaterThan(0);
    expect(snd.retransmits).toBeGreaterThan(0);
    expect(rcv.sackSent).toBeGreaterThan(0);
    await expectCleanedUp(p);
  });

  it('a writer that writes 256 KiB and ends at once delivers every byte over a lossy path', async () => {
    const p = await faultPair({ streams: SMALL_SEGMENTS, both: { drop: 0.05 }, seed: 5 });
    await transfer(p, 4000, randomData(256 * 1024, 24), { timeoutMs: 15_000 });
    await expectCleanedUp(p);
  });

  it('combined faults: 4 concurrent 256 KiB echoes through loss, corruption, reordering, duplication, jitter', async () => {
    const p = await faultPair({
      streams: SMALL_SEGMENTS,
      both: { drop: 0.02, corrupt: 0.01, reorder: 0.1, duplicate: 0.05, delayMs: 1, jitterMs: 3 },
      seed: 9,
    });
    const l = await p.b.streams.listen(7);
    void (async () => {
      for (;;) {
        let s: Stream;
        try {
          s = await l.accept();
        } catch {
          return;
        }
        s.on('error', () => {});
        s.pipe(s);
      }
    })();
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const c = await p.a.streams.dial(p.b.addr, 7);
        const data = randomData(256 * 1024, 900 + i);
        const got = readAll(c);
        c.end(data);
        const echoed = await within(got, 15_000, `echo ${i}`);
        return {
          ok: echoed.length === data.length && sha256(echoed) === sha256(data),
          rtx: c.stats().retransmits,
        };
      }),
    );
    note(
      `combined faults: ${(performance.now() - t0).toFixed(0)} ms, retransmits ${results.map((r) => r.rtx).join('/')}, relay ${JSON.stringify(p.relay.stats.up)}`,
    );
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true]);
    await l.close();
    await expectCleanedUp(p);
  });
});
