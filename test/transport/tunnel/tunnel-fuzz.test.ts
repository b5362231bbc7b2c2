import { createSocket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { frameKind } from '../../../src/transport/frames.js';
import { UdpRelay } from '../../helpers/udp-relay.js';
import { waitFor } from '../../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel-helpers.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
}

describe('tunnel fuzz', () => {
  it('survives 100,000 random and mutated datagrams while valid traffic arrives intact', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    introduce(a, b);
    const relay = await UdpRelay.create(b.tunnel.address);
    onTestFinished(() => relay.close());
    a.dir.set(2, { endpoint: relay.address });
    const samples: Buffer[] = [];
    relay.setFaults({ tap: (m) => (samples.length < 64 && samples.push(Buffer.from(m)), m) }, {});
    a.tunnel.send(datagram(1, 2, 'hello'));
    await waitFor(() => b.received.length === 1);
    expect(samples.some((s) => frameKind(s) === 'PILA')).toBe(true);

    const fuzzer = createSocket('udp4');
    await new Promise<void>((r) => fuzzer.bind(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => fuzzer.close(() => r())));
    const rand = rng(42);
    const magics = ['PILT', 'PILS', 'PILK', 'PILA', 'PILP'].map((m) => Buffer.from(m));
    const make = (): Buffer => {
      const kind = rand();
      if (kind < 0.3) {
        const len = Math.floor(rand() * 300);
        const out = Buffer.allocUnsafe(len);
        for (let i = 0; i < len; i++) out[i] = Math.floor(rand() * 256);
        return out;
      }
      if (kind < 0.55) {
        const len = 4 + Math.floor(rand() * 200);
        const out = Buffer.allocUnsafe(len);
        magics[Math.floor(rand() * magics.length)].copy(out, 0);
        for (let i = 4; i < len; i++) out[i] = Math.floor(rand() * 256);
        if (rand() < 0.5 && len >= 8) out.writeUInt32BE(1 + Math.floor(rand() * 3), 4);
        return out;
      }
      const base = Buffer.from(samples[Math.floor(rand() * samples.length)]);
      const op = rand();
      if (op < 0.5) {
        const flips = 1 + Math.floor(rand() * 4);
        for (let i = 0; i < flips; i++) base[Math.floor(rand() * base.length)] ^= 1 << Math.floor(rand() * 8);
        return base;
      }
      if (op < 0.75) return base.subarray(0, Math.floor(rand() * base.length));
      return Buffer.concat([base, Buffer.alloc(1 + Math.floor(rand() * 64), 0xaa)]);
    };

    const TOTAL = 100_000;
    const BATCH = 100;
    let valid = 0;
    const before = b.tunnel.counters().rxPackets;
    for (let sent = 0; sent < TOTAL; sent += BATCH) {
      for (let i = 0; i < BATCH; i++) fuzzer.send(make(), b.tunnel.address.port, '127.0.0.1');
      a.tunnel.send(datagram(1, 2, `valid ${valid}`, valid));
      valid++;
      // Let B drain its socket before the next batch so the kernel does not drop the valid packets.
      const target = sent + BATCH + valid - BATCH;
      const deadline = Date.now() + 2000;
      while (b.tunnel.counters().rxPackets - before < target && Date.now() < deadline) {
        await new Promise((r) => setImmediate(r));
      }
    }
    await waitFor(() => b.received.length === valid + 1, 20_000, 'valid traffic').catch((e: unknown) => {
      console.log(b.received.length, valid, JSON.stringify(b.tunnel.counters()), JSON.stringify(relay.stats));
      throw e;
    });
    const got = b.received.slice(1).map((p) => p.payload.toString());
    expect(got).toEqual([...Array(valid)].map((_, i) => `valid ${i}`));
    const c = b.tunnel.counters();
    expect(c.rxPackets - before).toBeGreaterThan(TOTAL * 0.95);
    expect(c.dropped).toBeGreaterThan(TOTAL * 0.5);
    expect(c.peers).toBe(1);
    expect(c.queuedPackets).toBe(0);
  }, 60_000);
});
