/**
 * Simulator test world: a registry and a beacon on the "public" side (127.0.0.1) and nodes each behind its
 * own simulated NAT (UDP through the NAT simulator, registry TCP from the NAT's public IP), plus helpers for
 * transfers checked by SHA-256. Everything a world opens is closed by `world.close()`.
 */
import { createHash } from 'node:crypto';
import type { Addr } from '../../src/coreapi/addr.js';
import type { Stream } from '../../src/coreapi/streams.js';
import { createBeacon, type Beacon, type BeaconOptions } from '../../src/beacon/index.js';
import { startRegistry, type RegistryServer } from '../../src/registry/index.js';
import type { StreamStackOptions } from '../../src/streams/stack.js';
import {
  createNat,
  type NatFiltering,
  type NatMapping,
  type NatSimulator,
} from '../helpers/nat-simulator.js';
import { NatTunnelSocket, type SocketTap } from './nat-socket.js';
import { startNatNode, type NatNode, type NatNodeOptions } from './node-pieces.js';
import { createTcpNat } from './tcp-nat.js';

export type NatKind = 'full-cone' | 'address-restricted' | 'port-restricted' | 'symmetric';

export const NAT_KINDS: Record<NatKind, { mapping: NatMapping; filtering: NatFiltering }> = {
  'full-cone': { mapping: 'endpoint-independent', filtering: 'endpoint-independent' },
  'address-restricted': { mapping: 'endpoint-independent', filtering: 'address-dependent' },
  'port-restricted': { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' },
  symmetric: { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' },
};

/** Short dial timers so the punch (retry 1) and relay (retry 3) steps happen within about a second. */
export const FAST_STREAMS: Partial<StreamStackOptions> = {
  synRtoMs: 200,
  synRtoMaxMs: 1000,
  dialTimeoutMs: 15_000,
};

let ipCounter = 0;
/** A fresh loopback IP per NAT (distinct IPs make address-dependent filtering meaningful). */
export function nextNatIp(prefix: number): string {
  const i = ipCounter++;
  return `127.${prefix}.${Math.floor(i / 250) % 250}.${(i % 250) + 2}`;
}

export interface NodeBehindNat extends NatNode {
  readonly natSim: NatSimulator | null;
  readonly publicIp: string;
}

export class World {
  readonly registry: RegistryServer;
  readonly beacon: Beacon;
  readonly #closers: (() => Promise<void> | void)[] = [];

  private constructor(registry: RegistryServer, beacon: Beacon) {
    this.registry = registry;
    this.beacon = beacon;
  }

  static async start(beaconOptions: BeaconOptions = {}): Promise<World> {
    const registry = await startRegistry({
      host: '127.0.0.1',
      port: 0,
      store: null,
      registrationRateLimit: false,
    });
    const beacon = await createBeacon({ host: '127.0.0.1', port: 0, ...beaconOptions }).catch(
      async (err: unknown) => {
        await registry.close();
        throw err;
      },
    );
    return new World(registry, beacon);
  }

  get registryEndpoint(): { host: string; port: number } {
    return this.registry.address as { host: string; port: number };
  }

  get registryAddr(): string {
    const a = this.registryEndpoint;
    return `${a.host}:${a.port}`;
  }

  get beaconAddr(): string {
    const a = this.beacon.address();
    return `${a.host}:${a.port}`;
  }

  /** Register something to close with the world (last added, first closed). */
  defer(fn: () => Promise<void> | void): void {
    this.#closers.push(fn);
  }

  /** A node behind a simulated NAT of `kind` whose public IP is `ip`; `kind` null = no NAT (public node). */
  async node(
    kind: NatKind | null,
    ip: string,
    opts: Partial<Omit<NatNodeOptions, 'registry' | 'socket'>> & { tap?: SocketTap } = {},
  ): Promise<NodeBehindNat> {
    const { tap, ...nodeOpts } = opts;
    let natSim: NatSimulator | null = null;
    let socket: NatTunnelSocket | undefined;
    if (kind !== null) {
      natSim = await createNat({ ...NAT_KINDS[kind], publicHost: ip });
      const sim = natSim;
      this.defer(() => sim.close());
      socket = new NatTunnelSocket(await natSim.createClient(), tap ?? null);
    }
    const tcp = await createTcpNat(this.registryEndpoint, ip);
    this.defer(() => tcp.close());
    const node = await startNatNode({
      registry: tcp.addr,
      beacon: this.beaconAddr,
      socket,
      host: kind === null ? ip : undefined,
      streams: FAST_STREAMS,
      ...nodeOpts,
    });
    this.defer(() => node.close());
    return Object.assign(node, { natSim, publicIp: ip });
  }

  async close(): Promise<void> {
    for (const c of this.#closers.reverse()) await Promise.resolve(c()).catch(() => {});
    this.#closers.length = 0;
    await this.beacon.close();
    await this.registry.close();
  }
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic pseudo-random bytes. */
export function payload(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Everything `s` delivers until its end (not async iteration: that would destroy the stream at the end). */
function readAll(s: Stream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

/** `server` answers each stream on `port` with the SHA-256 (hex) of everything it read. */
export async function hashServer(server: NatNode, port: number): Promise<void> {
  const l = await server.streams.listen(port);
  void (async () => {
    for (;;) {
      const s = await l.accept().catch(() => null);
      if (s === null) return;
      void readAll(s).then(
        (data) => s.end(sha256(data)),
        () => s.destroy(),
      );
    }
  })();
}

/** Dial `to`, send `data`, and return the server's hash of what it received and the time to connect. */
export async function transfer(
  client: NatNode,
  to: Addr,
  port: number,
  data: Buffer,
): Promise<{ hash: string; dialMs: number }> {
  const t0 = performance.now();
  const s = await client.streams.dial(to, port);
  const dialMs = performance.now() - t0;
  const reply = readAll(s);
  s.end(data);
  return { hash: (await reply).toString(), dialMs };
}
