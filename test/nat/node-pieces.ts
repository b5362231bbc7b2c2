/**
 * A pilot node assembled from its pieces (tunnel, registry client, streams, NAT traversal) the way the
 * composition root does it, but with a tunnel socket the caller may supply (a NAT simulator's client):
 * discover the public endpoint, register it, set the node ID, start NAT traversal.
 */
import type { EventBus, PilotEvent, Subscription } from '../../src/coreapi/events.js';
import { makeAddr, type Addr } from '../../src/coreapi/addr.js';
import type { Endpoint } from '../../src/coreapi/resolver.js';
import { createNatTraversal, type NatTraversal, type NatTraversalOptions } from '../../src/node/nat/index.js';
import { RegistryClient, RegistryKeySource, RegistryPeerResolver } from '../../src/registry/index.js';
import { createStreams, type StreamStack, type StreamStackOptions } from '../../src/streams/stack.js';
import { ed25519Sign, generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel, type TunnelSocket, type UdpTunnel } from '../../src/transport/tunnel.js';

/** An EventBus that records what is published (tests read `events`). */
export class RecordingBus implements EventBus {
  readonly events: { topic: string; payload: Record<string, unknown> }[] = [];

  publish(topic: string, payload: Record<string, unknown> = {}): void {
    this.events.push({ topic, payload });
  }

  subscribe(): Subscription {
    throw new Error('RecordingBus: subscribe is not supported');
  }

  topics(topic: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.topic === topic).map((e) => e.payload);
  }
}
export type { PilotEvent };

export interface NatNodeOptions {
  /** Registry `host:port` (a TCP NAT proxy in simulator tests). */
  registry: string;
  beacon: string | null;
  /** A tunnel socket (NAT simulator); else the tunnel binds `host:port`. */
  socket?: TunnelSocket;
  host?: string;
  port?: number;
  streams?: Partial<StreamStackOptions>;
  nat?: Partial<Omit<NatTraversalOptions, 'tunnel' | 'beacon'>>;
}

export interface NatNode {
  readonly nodeId: number;
  readonly addr: Addr;
  readonly tunnel: UdpTunnel;
  readonly streams: StreamStack;
  readonly registry: RegistryClient;
  readonly nat: NatTraversal;
  readonly bus: RecordingBus;
  /** What `discover()` answered before registration. */
  readonly discovered: Endpoint | null;
  close(): Promise<void>;
}

export async function startNatNode(o: NatNodeOptions): Promise<NatNode> {
  const keyPair = generateEd25519();
  let nodeId = 0;
  const registry = new RegistryClient({
    addr: o.registry,
    signer: {
      get nodeId() {
        return nodeId;
      },
      publicKey: keyPair.publicKey,
      sign: (m: Uint8Array) => ed25519Sign(keyPair, m),
    },
  });
  const keys = new RegistryKeySource({ client: registry });
  const resolver = new RegistryPeerResolver({ client: registry });
  let tunnel: UdpTunnel | null = null;
  let nat: NatTraversal | null = null;
  try {
    tunnel = await createTunnel({
      socket: o.socket,
      host: o.host,
      port: o.port,
      identity: keyPair,
      keys,
      endpoints: {
        resolveEndpoint: async (id: number): Promise<Endpoint | null> => {
          try {
            return (await resolver.resolve(id)).endpoint;
          } catch {
            return null;
          }
        },
      },
    });
    nat = createNatTraversal({ tunnel, beacon: o.beacon, ...o.nat });
    const discovered = await nat.discover();
    const reg = await registry.register({ listenAddr: nat.registrationAddr() });
    nodeId = reg.node_id;
    tunnel.setNodeId(nodeId);
    await registry.setVisibility(true);
    const streams = createStreams(tunnel, { network: 0, ...o.streams });
    const bus = new RecordingBus();
    nat.start({ streams, events: bus });
    const t = tunnel;
    const n = nat;
    return {
      nodeId,
      addr: makeAddr(0, nodeId),
      tunnel: t,
      streams,
      registry,
      nat: n,
      bus,
      discovered,
      close: async () => {
        n.close();
        await streams.close();
        await t.close();
        registry.close();
      },
    };
  } catch (err) {
    nat?.close();
    await tunnel?.close();
    registry.close();
    throw err;
  }
}
