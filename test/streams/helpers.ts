import { createHash } from 'node:crypto';
import { onTestFinished } from 'vitest';
import { createStaticNode, type StaticNode, type StaticNodeOptions } from '../../src/node/static-node.js';
import type { StreamStackOptions } from '../../src/streams/stack.js';
import { UdpRelay, type FaultConfig } from '../helpers/udp-relay.js';

export async function node(nodeId: number, opts: Partial<StaticNodeOptions> = {}): Promise<StaticNode> {
  const n = await createStaticNode({ nodeId, ...opts });
  onTestFinished(() => n.close());
  return n;
}

/** Two nodes that know each other; with `faults`, A reaches B through a UDP relay. */
export async function pair(
  streams: Partial<StreamStackOptions> = {},
  faults?: { up?: FaultConfig; down?: FaultConfig; seed?: number },
): Promise<{ a: StaticNode; b: StaticNode; relay: UdpRelay | null }> {
  const a = await node(1, { streams });
  const b = await node(2, { streams });
  a.addPeer(b.peerEntry());
  b.addPeer(a.peerEntry());
  let relay: UdpRelay | null = null;
  if (faults) {
    relay = await UdpRelay.create(b.tunnel.address, faults);
    onTestFinished(() => relay?.close());
    a.addPeer({ ...b.peerEntry(), endpoint: relay.address });
  }
  return { a, b, relay };
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function randomData(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

export async function readAll(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c);
  return Buffer.concat(chunks);
}
