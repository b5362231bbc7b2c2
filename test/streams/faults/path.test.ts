/**
 * Fault-injection scenarios on the path (issue 3): a 2 s blackhole mid-transfer, a 1.5 s RTT, the client's
 * source port changing every second, heavy reordering and duplication, a bandwidth cap with a small queue,
 * and a receiver that stops reading (zero window). Content is verified by SHA-256.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../../src/coreapi/streams.js';
import { waitFor } from '../../helpers/wait.js';
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

describe('faults: path changes', () => {
  it('blackhole: a transfer survives a 2 s outage in both directions', async () => {
    const p = await faultPair({
      streams: { pmtuDiscovery: false },
      both: { bandwidth: 4_000_000, queueBytes: 256 * 1024 },
    });
    let outageAt = -1;
    let afterOutage = 0;
    const r = await transfer(p, 1000, randomData(3 * MiB, 41), {
      timeoutMs: 18_000,
      onProgress: (n) => {
        if (outageAt < 0 && n >= MiB) {
          outageAt = n;
          p.relay.blackout(2000);
        } else afterOutage = n;
      },
    });
    note(
      `blackhole: ${r.ms.toFixed(0)} ms, outage at ${outageAt} bytes, retransmits ${r.sent.stats().retransmits}`,
    );
    expect(outageAt).toBeGreaterThan(0);
    expect(afterOutage).toBe(3 * MiB);
    // The outage really hit the transfer.
    expect(r.ms).toBeGreaterThan(2000);
    await expectCleanedUp(p);
  });

  it('long RTT: handshake and a small exchange at 1.5 s RTT', async () => {
    const p = await faultPair({ both: { delayMs: 750 } });
    const l = await p.b.streams.listen(7);
    void l.accept().then(
      (s) => {
        s.on('data', (c: Buffer) => s.write(c));
        s.on('end', () => s.end());
        s.on('error', () => {});
      },
      () => {},
    );
    const t0 = performance.now();
    const c = await within(p.a.streams.dial(p.b.addr, 7), 15_000, 'dial at 1.5 s RTT');
    const dialMs = performance.now() - t0;
    const data = randomData(8 * 1024, 42);
    const got = readAll(c);
    c.end(data);
    expect(sha256(await within(got, 15_000, 'echo at 1.5 s RTT'))).toBe(sha256(data));
    const st = c.stats();
    note(
      `long RTT: dial ${dialMs.toFixed(0)} ms, total ${(performance.now() - t0).toFixed(0)} ms, srtt ${st.srttMs.toFixed(0)} ms, retransmits ${st.retransmits}`,
    );
    expect(dialMs).toBeGreaterThanOrEqual(1400);
    await expectCleanedUp(p, 10_000);
  });

  it('port rebinding: a paced echo survives the client source port changing every ~1 s', async () => {
    // The sender paces itself (64 KiB every 50 ms, about 1.3 MB/s) so the transfer lasts about 4 s; see the
    // skipped variant below for why the relay's bandwidth cap is not used here. B echoes everything, so B's
    // sends to the old port are lost after each rebind until B follows A to the new one.
    const p = await faultPair({ streams: { pmtuDiscovery: false } });
    const data = randomData(4 * MiB, 43);
    const chunk = 64 * 1024;
    const l = await p.b.streams.listen(1000);
    void l.accept().then(
      (s) => {
        s.on('error', () => {});
        s.pipe(s);
      },
      () => {},
    );
    const c = await p.a.streams.dial(p.b.addr, 1000);
    const echoed = readAll(c);
    const endpoints = new Set<string>();
    const timer = setInterval(() => {
      void p.relay.rebind();
    }, 900);
    const t0 = performance.now();
    try {
      for (let off = 0; off < data.length; off += chunk) {
        c.write(data.subarray(off, off + chunk));
        await new Promise((r) => setTimeout(r, 50));
        const ep = p.b.tunnel.peer(p.a.nodeId)?.endpoint;
        if (ep) endpoints.add(ep);
      }
      c.end();
      const got = await within(echoed, 15_000, 'echo across rebinds');
      expect(got.length).toBe(data.length);
      expect(sha256(got)).toBe(sha256(data));
    } finally {
      clearInterval(timer);
      await l.close();
    }
    note(
      `rebinding: ${(performance.now() - t0).toFixed(0)} ms, B saw ${endpoints.size} source endpoints, retransmits A ${c.stats().retransmits}`,
    );
    expect(endpoints.size).toBeGreaterThanOrEqual(4);
    await expectCleanedUp(p);
  });

  // Skipped because of a relay bug (test/helpers/udp-relay.ts): rebind() closes the old upstream socket while
  // packets queued by the bandwidth cap (or delay / reorder timers) still hold a `send` bound to it, so the
  // timer later calls send() on a closed dgram socket and throws ERR_SOCKET_DGRAM_NOT_RUNNING as an uncaught
  // exception (hundreds per run). The transfer itself survives. Enable once the relay looks the socket up at
  // send time (or swallows sends on closed sockets).
  it('port rebinding: a bandwidth-capped transfer survives the source port changing every ~1 s', async () => {
    const p = await faultPair({
      streams: { pmtuDiscovery: false },
      both: { bandwidth: 1_000_000, queueBytes: 128 * 1024 },
    });
    let rebinds = 0;
    const timer = setInterval(() => {
      rebinds++;
      void p.relay.rebind();
    }, 900);
    try {
      const r = await transfer(p, 1000, randomData(4 * MiB, 43), { timeoutMs: 18_000 });
      note(`rebinding (capped): ${r.ms.toFixed(0)} ms with ${rebinds} rebinds`);
    } finally {
      clearInterval(timer);
    }
    expect(rebinds).toBeGreaterThanOrEqual(3);
    await expectCleanedUp(p);
  });

  it('reorder 20% + duplicate 10% each way: 2 MiB intact', async () => {
    const p = await faultPair({
      streams: { pmtuDiscovery: false },
      both: { reorder: 0.2, duplicate: 0.1 },
      seed: 44,
    });
    const r = await transfer(p, 1000, randomData(2 * MiB, 44), { timeoutMs: 15_000 });
    const st = r.sent.stats();
    note(
      `reorder+dup: ${r.ms.toFixed(0)} ms, relay ${JSON.stringify(p.relay.stats.up)}, retransmits ${st.retransmits} (fast ${st.fastRetransmits})`,
    );
    expect(p.relay.stats.up.reordered).toBeGreaterThan(0);
    expect(p.relay.stats.up.duplicated).toBeGreaterThan(0);
    await expectCleanedUp(p);
  });

  it.each([
    ['path-MTU segments', true],
    ['1,382-byte segments', false],
  ])(
    'bandwidth cap 5 MB/s with a 64 KiB queue (%s): 2 MiB intact at more than a third of the cap',
    async (_, pmtu) => {
      const cap = 5_000_000;
      const size = 2 * MiB;
      const p = await faultPair({ streams: { pmtuDiscovery: pmtu } });
      // Baseline in the same run, without the cap: on a starved CPU the relay itself may not reach 5 MB/s,
      // and then the cap cannot be the figure to compare with.
      const base = await transfer(p, 999, randomData(size, 44), { timeoutMs: 15_000 });
      const baseline = size / (base.ms / 1000);
      p.relay.setFaults({ bandwidth: cap, queueBytes: 64 * 1024 });
      const r = await transfer(p, 1000, randomData(size, 45), { timeoutMs: 15_000 });
      const goodput = size / (r.ms / 1000);
      const st = r.sent.stats();
      note(
        `bandwidth cap (${pmtu ? 'pmtu' : 'small segs'}): goodput ${(goodput / 1e6).toFixed(2)} MB/s of ${cap / 1e6} (uncapped ${(baseline / 1e6).toFixed(1)}), queue drops ${p.relay.stats.up.queueDrops}, retransmits ${st.retransmits}, mss ${st.mss}`,
      );
      // More than a third of the cap (measured 0.8-0.9 of it): the bound leaves room for one stall of the
      // test process in a transfer of under half a second, and still catches a collapse to RTO pacing.
      expect(goodput).toBeGreaterThan(0.35 * Math.min(cap, baseline));
      await expectCleanedUp(p);
    },
  );

  it.each([
    ['path-MTU segments', true],
    ['1,382-byte segments (the window reaches exactly 0)', false],
  ])(
    'zero window (%s): a paused receiver blocks the sender, resuming delivers everything',
    async (_, pmtu) => {
      const win = 256 * 1024;
      const p = await faultPair({
        streams: {
          recvWindow: win,
          sendBuffer: 256 * 1024,
          zeroWindowProbeMinMs: 100,
          zeroWindowProbeMaxMs: 400,
          pmtuDiscovery: pmtu,
        },
      });
      const l = await p.b.streams.listen(1000);
      const accepted = l.accept();
      const c = await p.a.streams.dial(p.b.addr, 1000);
      const data = randomData(2 * MiB, 47);
      let writesDone = false;
      const writer = (async () => {
        for (let off = 0; off < data.length; off += 64 * 1024) {
          if (!c.write(data.subarray(off, off + 64 * 1024))) await new Promise((r) => c.once('drain', r));
        }
        c.end();
        writesDone = true;
      })();
      void readAll(c).catch(() => {});
      const s: Stream = await accepted;
      // Not reading: the receive buffer fills and the advertised window closes (below one segment: the
      // sender then only probes).
      const blocked = (): boolean => {
        const st = c.stats();
        return st.peerRecvWindow < st.mss && st.inFlight <= 1;
      };
      await waitFor(blocked, 10_000, 'sender blocked');
      const buffered = s.readableLength;
      note(
        `zero window: receiver buffered ${buffered} bytes, sender sees window ${c.stats().peerRecvWindow}`,
      );
      if (!pmtu) expect(c.stats().peerRecvWindow).toBe(0);
      expect(buffered).toBeLessThanOrEqual(win + 64 * 1024);
      expect(writesDone).toBe(false);
      // Stay blocked across several probe intervals without overrunning the receiver.
      const sentBefore = c.stats().bytesSent;
      await new Promise((r) => setTimeout(r, 600));
      expect(s.readableLength).toBeLessThanOrEqual(win + 64 * 1024);
      // Only probes went out meanwhile.
      expect(c.stats().bytesSent - sentBefore).toBeLessThan(c.stats().mss);
      const got = readAll(s);
      const all = await within(got, 15_000, 'resumed transfer');
      s.end();
      await within(writer, 5000, 'writer finishes');
      expect(all.length).toBe(data.length);
      expect(sha256(all)).toBe(sha256(data));
      await l.close();
      await expectCleanedUp(p);
    },
  );
});
