/**
 * A node without a registry: a tunnel plus a streams stack with a static peer table. Two of these talk to
 * each other in a test or a script:
 *
 * ```ts
 * const a = await createStaticNode({ nodeId: 1 });
 * const b = await createStaticNode({ nodeId: 2 });
 * a.addPeer(b.peerEntry()); b.addPeer(a.peerEntry());
 * const l = await b.streams.listen(7);
 * const s = await a.streams.dial(b.addr, 7);
 * ```
 */
import { makeAddr, type Addr } from '../coreapi/addr.js';
import type { Endpoint } from '../coreapi/resolver.js';
import { StaticPeerDirectory } from '../transport/key-source.js';
import { generateEd25519, type Ed25519KeyPair } from '../transport/keys.js';
import { createTunnel, type TunnelOptions, type UdpTunnel } from '../transport/tunnel.js';
import { createStreams, type StreamStack, type StreamStackOptions } from '../streams/stack.js';

export interface StaticPeer {
  nodeId: number;
  publicKey: Uint8Array;
  endpoint: Endpoint;
}

export interface StaticNodeOptions {
  nodeId: number;
  network?: number;
  identity?: Ed25519KeyPair;
  /** UDP bind address (default 127.0.0.1) and port (default 0). */
  host?: string;
  port?: number;
  peers?: StaticPeer[];
  tunnel?: Omit<TunnelOptions, 'nodeId' | 'identity' | 'keys' | 'endpoints' | 'host' | 'port'>;
  streams?: Omit<StreamStackOptions, 'network'>;
}

export interface StaticNode {
  readonly nodeId: number;
  readonly addr: Addr;
  readonly identity: Ed25519KeyPair;
  readonly tunnel: UdpTunnel;
  readonly streams: StreamStack;
  readonly directory: StaticPeerDirectory;
  /** This node as a peer entry for another static node. */
  peerEntry(): StaticPeer;
  addPeer(peer: StaticPeer): void;
  close(): Promise<void>;
}

export async function createStaticNode(options: StaticNodeOptions): Promise<StaticNode> {
  const identity = options.identity ?? generateEd25519();
  const directory = new StaticPeerDirectory(options.peers ?? []);
  const tunnel = await createTunnel({
    ...options.tunnel,
    nodeId: options.nodeId,
    identity,
    keys: directory,
    endpoints: directory,
    host: options.host,
    port: options.port,
  });
  let addr: Addr;
  let streams: StreamStack;
  try {
    addr = makeAddr(options.network ?? 0, options.nodeId);
    streams = createStreams(tunnel, { ...options.streams, network: addr.network });
  } catch (err) {
    // A bad network (or streams option) must not leave the UDP socket bound.
    await tunnel.close();
    throw err;
  }
  return {
    nodeId: options.nodeId,
    addr,
    identity,
    tunnel,
    streams,
    directory,
    peerEntry: () => ({ nodeId: options.nodeId, publicKey: identity.publicKey, endpoint: tunnel.address }),
    addPeer: (p) => {
      directory.set(p.nodeId, p);
    },
    close: async () => {
      await streams.close();
      await tunnel.close();
    },
  };
}
