/**
 * Audit 3: wire conformance with the reference daemon, checked against a hand-driven peer. The node runs a
 * plaintext tunnel (PILT frames), so a raw UDP socket speaks for a reference node: it sends packets built with
 * the packet codec and reads every packet the node sends back.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { encodeSack } from '../../src/streams/sack.js';
import {
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  PROTO_CONTROL,
  type Packet,
} from '../../src/transport/packet.js';
import { node } from './helpers.js';
import { RawPeer } from './raw-peer.js';

/** How the reference's decoder reads a payload: SACK info when magic, count 1..4 and at least 5 + 8·count bytes. */
function referenceReadsAsSack(b: Buffer): boolean {
  if (b.length < 5 || b.toString('latin1', 0, 4) !== 'SACK') return false;
  const n = b[4];
  return n >= 1 && n <= 4 && b.length >= 5 + 8 * n;
}

describe('audit3 conformance: what a reference peer sees on the wire', () => {
  /** Accept a stream from `peer`, let `write` send on it, and collect the segments until `total` bytes arrived. */
  async function collect(
    write: (s: Stream) => void,
    total: number,
  ): Promise<{ segs: Buffer[]; synAck: Packet }> {
    const b = await node(2, { tunnel: { encrypt: false }, streams: { pmtuDiscovery: false } });
    const peer = await RawPeer.create(b);
    const l = await b.streams.listen(1000);
    const accepted = l.accept();
    const synAck = await peer.connect(b, 50001, 1000);
    const s = await accepted;
    s.setNoDelay(true);
    write(s);
    const segs: Buffer[] = [];
    let got = 0;
    let from = 0;
    while (got < total) {
      const p = await peer.next((x) => x.dstPort === 50001 && x.payload.length > 0, 3000, from);
      from = peer.received.indexOf(p) + 1;
      expect(p.flags).toBe(FLAG_ACK);
      expect(p.seq).toBe((synAck.seq + 1 + got) >>> 0);
      segs.push(Buffer.from(p.payload));
      got += p.payload.length;
      peer.send({
        dst: b.addr,
        srcPort: 50001,
        dstPort: 1000,
        flags: FLAG_ACK,
        seq: 1,
        ack: (p.seq + p.payload.length) >>> 0,
        window: 512,
      });
    }
    s.destroy();
    await l.close();
    return { segs, synAck };
  }

  it('a data segment never starts like a SACK payload the reference would decode (it ignores extra bytes)', async () => {
    // "SACK", count 1, one block, then more bytes: the reference's decoder takes all of it for SACK info.
    const payload = Buffer.concat([
      Buffer.from('SACK', 'latin1'),
      Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 9]),
      Buffer.from('and then the rest of the message', 'latin1'),
    ]);
    const { segs, synAck } = await collect((s) => s.write(payload), payload.length);
    expect(synAck.ack).toBe(1);
    expect(Buffer.concat(segs)).toEqual(payload);
    expect(segs[0].length).toBeLessThan(payload.length);
    for (const seg of segs) expect(referenceReadsAsSack(seg)).toBe(false);
  });

  it('a SACK-like segment built from several writes is cut without losing or repeating bytes', async () => {
    // Two writes handed over together: the first segment spans both and starts with "SACK", count 2.
    const head = Buffer.from([0x53, 0x41, 0x43, 0x4b, 2, 7, 7, 7]);
    const body = Buffer.alloc(3000);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const { segs } = await collect((s) => {
      s.cork();
      s.write(head);
      s.write(body);
      s.uncork();
    }, head.length + body.length);
    expect(Buffer.concat(segs)).toEqual(Buffer.concat([head, body]));
    for (const seg of segs) expect(referenceReadsAsSack(seg)).toBe(false);
  });

  it('checked conformant: RST for a closed port and a stray segment, pong on port 0, sequence numbers across 2^32', async () => {
    const b = await node(2, { tunnel: { encrypt: false }, streams: { pmtuDiscovery: false } });
    const peer = await RawPeer.create(b);
    peer.send({ dst: b.addr, srcPort: 50010, dstPort: 999, flags: FLAG_SYN, seq: 0, window: 512 });
    const rst = await peer.next((p) => p.dstPort === 50010);
    expect([rst.flags & FLAG_RST, rst.srcPort, rst.ack]).toEqual([FLAG_RST, 999, 1]);
    peer.send({
      dst: b.addr,
      srcPort: 50011,
      dstPort: 999,
      flags: FLAG_ACK,
      seq: 5,
      ack: 7,
      payload: Buffer.from('hi'),
    });
    const stray = await peer.next((p) => p.dstPort === 50011);
    expect([stray.flags & FLAG_RST, stray.seq, stray.ack]).toEqual([FLAG_RST, 7, 7]);
    peer.send({
      protocol: PROTO_CONTROL,
      dst: b.addr,
      srcPort: 4321,
      dstPort: 0,
      seq: 77,
      payload: Buffer.from('abc'),
    });
    const pong = await peer.next((p) => p.protocol === PROTO_CONTROL);
    expect([pong.flags, pong.srcPort, pong.dstPort, pong.seq, pong.ack, pong.payload.toString()]).toEqual([
      FLAG_ACK,
      0,
      4321,
      77,
      78,
      'abc',
    ]);
    // A dialer whose sequence numbers cross 2^32, then closes with a FIN without ACK (as the reference does).
    const l = await b.streams.listen(1001);
    const accepted = l.accept();
    const isn = 0xfffffff0;
    const synAck = await peer.connect(b, 50030, 1001, isn);
    expect(synAck.ack).toBe((isn + 1) >>> 0);
    const s = await accepted;
    const ended = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => resolve(Buffer.concat(chunks)));
    });
    const ack = (synAck.seq + 1) >>> 0;
    const from = peer.received.length;
    peer.send({
      dst: b.addr,
      srcPort: 50030,
      dstPort: 1001,
      flags: FLAG_ACK,
      seq: (isn + 21) >>> 0,
      ack,
      payload: Buffer.alloc(20, 2),
    });
    // The out-of-order segment is SACKed across the wrap; the FIN is acknowledged past it.
    const sack = await peer.next((p) => p.dstPort === 50030 && p.payload.length > 0, 3000, from);
    expect(sack.payload).toEqual(encodeSack([{ left: (isn + 21) >>> 0, right: (isn + 41) >>> 0 }]));
    peer.send({
      dst: b.addr,
      srcPort: 50030,
      dstPort: 1001,
      flags: FLAG_ACK,
      seq: (isn + 1) >>> 0,
      ack,
      payload: Buffer.alloc(20, 1),
    });
    peer.send({ dst: b.addr, srcPort: 50030, dstPort: 1001, flags: FLAG_FIN, seq: (isn + 41) >>> 0, ack: 0 });
    expect(await ended).toEqual(Buffer.concat([Buffer.alloc(20, 1), Buffer.alloc(20, 2)]));
    await peer.next((p) => p.dstPort === 50030 && p.ack === (isn + 42) >>> 0, 3000, from);
    s.destroy();
    await l.close();
  });
});
