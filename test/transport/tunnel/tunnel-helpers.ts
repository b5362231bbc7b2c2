import { onTestFinished } from 'vitest';
import { makeAddr } from '../../../src/coreapi/addr.js';
import { StaticPeerDirectory } from '../../../src/transport/key-source.js';
import { generateEd25519, type Ed25519KeyPair } from '../../../src/transport/keys.js';
import { makePacket, PROTO_DATAGRAM, type Packet } from '../../../src/transport/packet.js';
import { createTunnel, type TunnelOptions, type UdpTunnel } from '../../../src/transport/tunnel.js';

export interface TestNode {
  nodeId: number;
  identity: Ed25519KeyPair;
  tunnel: UdpTunnel;
  dir: StaticPeerDirectory;
  received: Packet[];
}

/** A tunnel on 127.0.0.1:0 with a static directory; closed when the test ends. */
export async function makeNode(
  nodeId: number,
  opts: Partial<TunnelOptions> = {},
  identity = generateEd25519(),
): Promise<TestNode> {
  const dir = new StaticPeerDirectory();
  const tunnel = await createTunnel({ nodeId, identity, keys: dir, endpoints: dir, ...opts });
  onTestFinished(() => tunnel.close());
  const received: Packet[] = [];
  tunnel.setPacketHandler((p) => received.push({ ...p, payload: Buffer.from(p.payload) }));
  return { nodeId, identity, tunnel, dir, received };
}

/** Teach each node the other's key and endpoint. */
export function introduce(a: TestNode, b: TestNode): void {
  a.dir.set(b.nodeId, { publicKey: b.identity.publicKey, endpoint: b.tunnel.address });
  b.dir.set(a.nodeId, { publicKey: a.identity.publicKey, endpoint: a.tunnel.address });
}

export function datagram(from: number, to: number, payload: Buffer | string, seq = 0): Packet {
  return makePacket({
    protocol: PROTO_DATAGRAM,
    src: makeAddr(0, from),
    dst: makeAddr(0, to),
    srcPort: 50000,
    dstPort: 9,
    seq,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  });
}
