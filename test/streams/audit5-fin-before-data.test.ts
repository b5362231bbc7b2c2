/**
 * Audit 5: the peer's FIN arrives before the last of its data (the reference sends its FIN at once, without
 * waiting for its data to be acknowledged, so a lost data segment puts the FIN ahead of it). Meanwhile our
 * application ended its side and our FIN was acknowledged. When the missing segment finally arrives, we
 * deliver it and the end of the stream, and must acknowledge them: before the fix the connection was
 * released (CLOSED) first and the pending ACK was never sent, so the peer kept retransmitting its data and
 * FIN into a forgotten connection and got a RST for a stream that delivered everything.
 *
 * Real nodes over UDP (plaintext tunnel so a relay tap can read B's replies); node A's tunnel injects the
 * reference-style segments for A's established connection.
 */
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Connection } from '../../src/streams/connection.js';
import { FLAG_ACK, FLAG_FIN, PROTO_STREAM, makePacket } from '../../src/transport/packet.js';
import { UdpRelay } from '../helpers/udp-relay.js';
import { waitFor, within } from '../helpers/wait.js';
import { node } from './helpers.js';

const MAGIC_PILT = 0x50494c54;

describe('audit5: FIN before the last data', () => {
  it('acknowledges the late data and FIN even when our own FIN was already acknowledged', async () => {
    const streams = { pmtuDiscovery: false };
    const a = await node(1, { streams, tunnel: { encrypt: false } });
    const b = await node(2, { streams, tunnel: { encrypt: false } });
    a.addPeer(b.peerEntry());
    b.addPeer(a.peerEntry());
    // Every stream packet B sends towards A: flags and ack number.
    const fromB: { flags: number; ack: number }[] = [];
    const relay = await UdpRelay.create(b.tunnel.address, {
      down: {
        tap: (msg) => {
          if (msg.length >= 38 && msg.readUInt32BE(0) === MAGIC_PILT && msg[5] === PROTO_STREAM)
            fromB.push({ flags: msg[4] & 0x0f, ack: msg.readUInt32BE(4 + 24) });
          return msg;
        },
      },
    });
    onTestFinished(() => relay.close());
    a.addPeer({ ...b.peerEntry(), endpoint: relay.address });

    const l = await b.streams.listen(1000);
    const [as, bs] = await Promise.all([a.streams.dial(b.addr, 1000), l.accept()]);
    const ac = as as Connection;
    const bc = bs as Connection;
    ac.on('error', () => {});
    ac.resume();
    await waitFor(() => bc.state === 'ESTABLISHED' && ac.state === 'ESTABLISHED', 5000, 'established');

    const chunks: Buffer[] = [];
    bc.on('data', (d: Buffer) => chunks.push(d));
    const ended = once(bc, 'end');
    const closed = once(bc, 'close');
    let bErr: Error | null = null;
    bc.on('error', (e: Error) => {
      bErr = e;
    });

    // Reference-style segments from A's side: data [base, base+100), data [base+100, base+200) (held back:
    // "lost"), FIN at base+200 (flags FIN only, as the reference sends it).
    const p = makePacket({
      protocol: PROTO_STREAM,
      src: ac.localAddr,
      dst: ac.remoteAddr,
      srcPort: ac.localPort,
      dstPort: ac.remotePort,
    });
    const base = bc.rcvNxt;
    const send = (flags: number, seq: number, payload: Buffer): void => {
      p.flags = flags;
      p.seq = seq >>> 0;
      p.ack = ac.rcvNxt;
      p.window = 16;
      p.payload = payload;
      a.tunnel.send(p);
    };
    // The FIN first (B answers it at once with an ACK of `base`), so B has it before its application ends.
    send(FLAG_FIN, base + 200, Buffer.alloc(0));
    await waitFor(() => fromB.some((x) => x.ack === base), 5000, "B's ACK of the early FIN");
    send(FLAG_ACK, base, Buffer.alloc(100, 0x61));
    await within(once(bc, 'data'), 5000, 'first segment');
    // B's application answers by ending its side; A's connection acknowledges B's FIN.
    bc.end();
    await within(once(bc, 'finish'), 5000, "B's FIN acknowledged");
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(100);

    const before = fromB.length;
    send(FLAG_ACK, base + 100, Buffer.alloc(100, 0x62));
    await within(Promise.all([ended, closed]), 5000, 'B delivers the end of the stream');
    expect(bErr).toBeNull();
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat([Buffer.alloc(100, 0x61), Buffer.alloc(100, 0x62)]));
    // B acknowledges the late data and the FIN (base + 201), so the peer stops retransmitting them.
    const finAck = (base + 201) >>> 0;
    await waitFor(
      () => fromB.slice(before).some((x) => (x.flags & FLAG_ACK) !== 0 && x.ack === finAck),
      2000,
      'ACK of the late data and FIN',
    );
    await l.close();
  });
});
