/**
 * Bench worker for the `nat` suite: a pilot node (tunnel, registry client, streams, NAT traversal) whose
 * tunnel socket sits behind a small firewall, driven over RPC.
 *
 * Firewall modes (inbound filtering on the node's real UDP socket):
 * - `open`: everything passes (the direct path works at once);
 * - `stateful`: only endpoints the node has sent to (port-restricted, like a NAT's filter): the first
 *   direct packet of a dial is dropped and the beacon's hole punch opens the path;
 * - `beacon-only`: only the beacon (no direct path at all): dials end on the relay.
 */
import { createSocket, type Socket } from 'node:dgram';
import { makeAddr } from '../../src/coreapi/addr.js';
import type { Endpoint } from '../../src/coreapi/resolver.js';
import type { Stream } from '../../src/coreapi/streams.js';
import { createNatTraversal, type NatTraversal } from '../../src/node/nat/index.js';
import { RegistryClient, RegistryKeySource, RegistryPeerResolver } from '../../src/registry/index.js';
import { createStreams, type StreamStack } from '../../src/streams/stack.js';
import { ed25519Sign, generateEd25519 } from '../../src/transport/keys.js';
import {
  createTunnel,
  type TunnelRemoteInfo,
  type TunnelSocket,
  type UdpTunnel,
} from '../../src/transport/tunnel.js';
import { emitEvent, serve } from './rpc.js';
import { tuneDaemonGc } from '../../src/node/gc-tuning.js';

// Every benchmark process, baselines included, runs with the daemon's V8 settings (src/node/gc-tuning.ts).
tuneDaemonGc();

type Mode = 'open' | 'stateful' | 'beacon-only';

class FirewallSocket implements TunnelSocket {
  readonly #sock: Socket;
  readonly #mode: Mode;
  readonly #beacon: Endpoint;
  readonly #permits = new Set<string>();

  constructor(sock: Socket, mode: Mode, beacon: Endpoint) {
    this.#sock = sock;
    this.#mode = mode;
    this.#beacon = beacon;
  }

  /** Forget every endpoint sent to (the beacon always passes). */
  clear(): void {
    this.#permits.clear();
  }

  send(msg: Buffer | Buffer[], port: number, address: string): void {
    if (this.#mode === 'stateful') this.#permits.add(`${address}:${port}`);
    this.#sock.send(msg, port, address);
  }

  on(event: 'message' | 'error', listener: (...args: never[]) => void): this {
    if (event === 'error') {
      this.#sock.on('error', listener as (err: Error) => void);
      return this;
    }
    const l = listener as (msg: Buffer, rinfo: TunnelRemoteInfo) => void;
    const b = this.#beacon;
    if (this.#mode === 'open') this.#sock.on('message', l);
    else if (this.#mode === 'beacon-only') {
      this.#sock.on('message', (m, r) => {
        if (r.port === b.port && r.address === b.host) l(m, r);
      });
    } else {
      this.#sock.on('message', (m, r) => {
        if ((r.port === b.port && r.address === b.host) || this.#permits.has(`${r.address}:${r.port}`))
          l(m, r);
      });
    }
    return this;
  }

  address(): { address: string; port: number } {
    return this.#sock.address();
  }

  close(cb?: () => void): void {
    this.#sock.close(cb);
  }

  setRecvBufferSize(n: number): void {
    this.#sock.setRecvBufferSize(n);
  }

  setSendBufferSize(n: number): void {
    this.#sock.setSendBufferSize(n);
  }
}

let tunnel: UdpTunnel;
let streams: StreamStack;
let nat: NatTraversal;
let registry: RegistryClient;
let firewall: FirewallSocket;

function readFirst(s: Stream): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('data', () => resolve());
    s.once('error', reject);
  });
}

serve({
  async init(a: { registry: string; beacon: string; mode: Mode; streams?: Record<string, number> }) {
    const keyPair = generateEd25519();
    let nodeId = 0;
    registry = new RegistryClient({
      addr: a.registry,
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
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const [bh, bp] = a.beacon.split(':');
    firewall = new FirewallSocket(sock, a.mode, { host: bh, port: Number(bp) });
    tunnel = await createTunnel({
      socket: firewall,
      identity: keyPair,
      keys,
      endpoints: {
        resolveEndpoint: async (id: number) =>
          (await resolver.resolve(id).catch(() => null))?.endpoint ?? null,
      },
    });
    nat = createNatTraversal({ tunnel, beacon: a.beacon, repunchIntervalMs: 0 });
    await nat.discover();
    const reg = await registry.register({ listenAddr: nat.registrationAddr() });
    nodeId = reg.node_id;
    tunnel.setNodeId(nodeId);
    await registry.setVisibility(true);
    streams = createStreams(tunnel, { network: 0, ...a.streams });
    nat.start({ streams });
    return nodeId;
  },
  async sink(a: { port: number }) {
    const l = await streams.listen(a.port);
    void (async () => {
      for (;;) {
        const s = await l.accept().catch(() => null);
        if (!s) return;
        let n = 0;
        let t0 = 0;
        s.on('data', (c: Buffer) => {
          if (n === 0) t0 = performance.now();
          n += c.length;
        });
        s.on('end', () => {
          emitEvent('sink', { bytes: n, ms: performance.now() - t0 });
          s.end();
        });
        s.on('error', () => {});
      }
    })();
  },
  async echo(a: { port: number }) {
    const l = await streams.listen(a.port);
    void (async () => {
      for (;;) {
        const s = await l.accept().catch(() => null);
        if (!s) return;
        s.setNoDelay(true);
        s.on('data', (c: Buffer) => s.write(c));
        s.on('end', () => s.end());
        s.on('error', () => {});
      }
    })();
  },
  async send(a: { node: number; port: number; bytes: number; chunk: number }) {
    const s = await streams.dial(makeAddr(0, a.node), a.port);
    const buf = Buffer.alloc(a.chunk, 0x5a);
    let sent = 0;
    while (sent < a.bytes) {
      const n = Math.min(a.chunk, a.bytes - sent);
      if (!s.write(n === a.chunk ? buf : buf.subarray(0, n))) await new Promise((r) => s.once('drain', r));
      sent += n;
    }
    s.end();
    await new Promise((r) => s.once('finish', r));
    s.resume();
    return { relay: tunnel.peer(a.node)?.relay ?? null };
  },
  /** Forget a peer (tunnel row, firewall state) so the next dial is a first contact. */
  forget(a: { peer: number }) {
    tunnel.removePeer(a.peer);
    firewall.clear();
  },
  /** Dial, write one byte, wait for the echo: milliseconds to the first byte back, and the path used. */
  async ttfb(a: { node: number; port: number }) {
    const t0 = performance.now();
    const s = await streams.dial(makeAddr(0, a.node), a.port);
    s.setNoDelay(true);
    const first = readFirst(s);
    s.write(Buffer.from([1]));
    await first;
    const ms = performance.now() - t0;
    s.destroy();
    return { ms, relay: tunnel.peer(a.node)?.relay ?? null, stats: nat.stats() };
  },
  async rtt(a: { node: number; port: number; count: number; size: number }) {
    const s = await streams.dial(makeAddr(0, a.node), a.port);
    s.setNoDelay(true);
    const msg = Buffer.alloc(a.size, 1);
    const samples: number[] = [];
    for (let i = 0; i < a.count; i++) {
      const t0 = performance.now();
      let got = 0;
      await new Promise<void>((resolve) => {
        const on = (c: Buffer): void => {
          got += c.length;
          if (got >= a.size) {
            s.off('data', on);
            resolve();
          }
        };
        s.on('data', on);
        s.write(msg);
      });
      samples.push(performance.now() - t0);
    }
    s.end();
    return { samples, relay: tunnel.peer(a.node)?.relay ?? null };
  },
  async close() {
    nat?.close();
    await streams?.close();
    await tunnel?.close();
    registry?.close();
  },
});
