/**
 * A peer made of a raw UDP socket that speaks unencrypted PILT frames to a node: conformance and wire tests
 * craft exactly the packets a reference peer (or a misbehaving one) would send.
 */
import { createSocket, type Socket } from 'node:dgram';
import { onTestFinished } from 'vitest';
import type { Addr } from '../../src/coreapi/addr.js';
import type { StaticNode } from '../../src/node/static-node.js';
import { MAGIC_PILT } from '../../src/transport/frames.js';
import {
  FLAG_ACK,
  FLAG_SYN,
  PROTO_STREAM,
  decodePacket,
  encodePacket,
  makePacket,
  type Packet,
} from '../../src/transport/packet.js';

export const FAKE_NODE = 9;

/** A peer made of a raw UDP socket: sends packets as PILT frames, collects the node's packets. */
export class RawPeer {
  readonly addr: Addr = { network: 0, node: FAKE_NODE };
  readonly received: Packet[] = [];
  #socket: Socket;
  #target: { host: string; port: number };
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket, target: { host: string; port: number }) {
    this.#socket = socket;
    this.#target = target;
    socket.on('message', (msg: Buffer) => {
      if (msg.length < 38 || msg.readUInt32BE(0) !== MAGIC_PILT) return;
      this.received.push(decodePacket(msg, 4));
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async create(n: StaticNode): Promise<RawPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      socket.close();
    });
    return new RawPeer(socket, n.tunnel.address);
  }

  send(fields: Partial<Packet> & Pick<Packet, 'dst'>): void {
    const pkt = encodePacket(makePacket({ protocol: PROTO_STREAM, src: this.addr, ...fields }));
    const frame = Buffer.allocUnsafe(4 + pkt.length);
    frame.writeUInt32BE(MAGIC_PILT, 0);
    pkt.copy(frame, 4);
    this.#socket.send(frame, this.#target.port, this.#target.host);
  }

  /** Resolve with the first received packet (from index `from`) matching `match`; rejects after `ms`. */
  async next(match: (p: Packet) => boolean, ms = 3000, from = 0): Promise<Packet> {
    const deadline = Date.now() + ms;
    for (let i = from; ;) {
      for (; i < this.received.length; i++) if (match(this.received[i])) return this.received[i];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a packet');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Dial `port` on the node as the reference does (ISN `isn`, window 512) and finish the handshake. */
  async connect(n: StaticNode, srcPort: number, port: number, isn = 0): Promise<Packet> {
    this.send({ dst: n.addr, srcPort, dstPort: port, flags: FLAG_SYN, seq: isn, window: 512 });
    const synAck = await this.next((p) => p.dstPort === srcPort && (p.flags & FLAG_SYN) !== 0);
    this.send({
      dst: n.addr,
      srcPort,
      dstPort: port,
      flags: FLAG_ACK,
      seq: (isn + 1) >>> 0,
      ack: (synAck.seq + 1) >>> 0,
      window: 512,
    });
    return synAck;
  }
}
