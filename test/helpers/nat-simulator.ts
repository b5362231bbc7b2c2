/**
 * A real-UDP NAT simulator for tests (RFC 4787 behaviours), process-local, loopback only.
 *
 * Topology: a client "behind" the NAT owns a real UDP socket (its private endpoint) that talks only to the
 * NAT's inside gateway socket. Each datagram carries a 6-byte header: the outside IPv4 endpoint it is for
 * (client → NAT) or from (NAT → client), so a {@link NatClient} behaves like a dgram socket: `send(buf, port,
 * address)` and `'message'` events with the real outside source in `rinfo`.
 *
 * Outbound, the NAT picks (or creates) a mapping = a public UDP socket bound on `publicHost` (a loopback IP
 * such as 127.0.0.2) and sends the payload from it. Which mapping is used depends on `mapping`:
 * - `endpoint-independent`: one mapping per private endpoint, whatever the destination;
 * - `address-dependent`: one per private endpoint and destination IP;
 * - `address-and-port-dependent` (symmetric): one per private endpoint and destination IP:port.
 * Inbound on a mapping's public socket, `filtering` decides what is let through to the client:
 * - `endpoint-independent` (full cone): anything;
 * - `address-dependent` (address-restricted): sources whose IP the mapping has sent to;
 * - `address-and-port-dependent` (port-restricted): sources whose IP:port the mapping has sent to.
 * Outside peers should live on distinct loopback IPs (127.0.0.3, 127.0.0.4, ...; all of 127/8 reaches
 * the Linux loopback) so address and port filtering can be told apart.
 *
 * Not modelled: port preservation, hairpinning rules, IPv6, ICMP. Mappings can expire after
 * `mappingTimeoutMs` idle (default: never). Every socket is closed by `close()`.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';

export type NatMapping = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';
export type NatFiltering = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

export interface NatOptions {
  mapping: NatMapping;
  filtering: NatFiltering;
  /** IP the public sockets bind to (default 127.0.0.1). Use a distinct loopback IP per NAT. */
  publicHost?: string;
  /** IP of the inside gateway socket and of client sockets (default 127.0.0.1). */
  insideHost?: string;
  /** Close a mapping after this long without outbound traffic (default 0 = never). */
  mappingTimeoutMs?: number;
  /** Most mappings at once; outbound packets needing a new mapping beyond it are dropped (default 1024). */
  maxMappings?: number;
}

export interface UdpEndpoint {
  host: string;
  port: number;
}

export interface NatMappingInfo {
  private: UdpEndpoint;
  public: UdpEndpoint;
  /** Destinations (IP or IP:port) this mapping has sent to. */
  permits: string[];
}

export interface NatStats {
  outbound: number;
  inbound: number;
  /** Inbound datagrams refused by filtering. */
  filtered: number;
  /** Outbound datagrams dropped (bad header, too many mappings). */
  dropped: number;
  mappingsCreated: number;
}

/** Emitted as `'filtered'`: an inbound datagram was refused by filtering. */
export interface NatFilteredEvent {
  from: UdpEndpoint;
  mapping: UdpEndpoint;
}

const HEADER = 6;

function encodeHeader(host: string, port: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  const parts = host.split('.');
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  out.writeUInt16BE(port, 4);
  out.set(payload, HEADER);
  return out;
}

function decodeHeader(buf: Buffer): { host: string; port: number; payload: Buffer } | null {
  if (buf.length < HEADER) return null;
  return {
    host: `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}`,
    port: buf.readUInt16BE(4),
    payload: buf.subarray(HEADER),
  };
}

async function bindUdp4(host: string): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => {
      s.off('error', reject);
      resolve();
    });
  });
  s.on('error', () => {});
  return s;
}

async function closeUdp(s: Socket): Promise<void> {
  await new Promise<void>((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

interface Mapping {
  key: string;
  privateKey: string;
  priv: UdpEndpoint;
  socket: Socket | null;
  ready: Promise<Socket | null>;
  permits: Set<string>;
  lastUsed: number;
}

export class NatSimulator extends EventEmitter {
  readonly options: Required<NatOptions>;
  readonly #gateway: Socket;
  readonly #mappings = new Map<string, Mapping>();
  readonly #clients = new Set<NatClient>();
  readonly #stats: NatStats = { outbound: 0, inbound: 0, filtered: 0, dropped: 0, mappingsCreated: 0 };
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  private constructor(options: Required<NatOptions>, gateway: Socket) {
    super();
    this.options = options;
    this.#gateway = gateway;
    gateway.on('message', (msg, rinfo) => this.#onInside(msg, rinfo));
  }

  static async create(opts: NatOptions): Promise<NatSimulator> {
    const options: Required<NatOptions> = {
      publicHost: '127.0.0.1',
      insideHost: '127.0.0.1',
      mappingTimeoutMs: 0,
      maxMappings: 1024,
      ...opts,
    };
    if (!isIPv4(options.publicHost) || !isIPv4(options.insideHost)) {
      throw new TypeError('nat simulator: publicHost and insideHost must be IPv4 literals');
    }
    const nat = new NatSimulator(options, await bindUdp4(options.insideHost));
    if (options.mappingTimeoutMs > 0) {
      nat.#timer = setInterval(() => nat.#expire(), Math.max(10, options.mappingTimeoutMs / 4));
      nat.#timer.unref();
    }
    return nat;
  }

  /** The inside gateway endpoint clients talk to. */
  gateway(): UdpEndpoint {
    const a = this.#gateway.address();
    return { host: a.address, port: a.port };
  }

  /** A new client socket behind this NAT. */
  async createClient(): Promise<NatClient> {
    const sock = await bindUdp4(this.options.insideHost);
    const client = new NatClient(sock, this.gateway(), () => this.#clients.delete(client));
    this.#clients.add(client);
    return client;
  }

  stats(): NatStats {
    return { ...this.#stats };
  }

  /** Current mappings (only those whose public socket is bound). */
  mappings(): NatMappingInfo[] {
    const out: NatMappingInfo[] = [];
    for (const m of this.#mappings.values()) {
      if (m.socket === null) continue;
      const a = m.socket.address();
      out.push({
        private: { ...m.priv },
        public: { host: a.address, port: a.port },
        permits: [...m.permits],
      });
    }
    return out;
  }

  /** The public endpoint the mapping for `client` → `dest` currently uses, or null if none yet. */
  publicEndpointFor(client: NatClient, dest: UdpEndpoint): UdpEndpoint | null {
    const priv = client.address();
    const m = this.#mappings.get(this.#mappingKey(`${priv.host}:${priv.port}`, dest.host, dest.port));
    if (m === undefined || m.socket === null) return null;
    const a = m.socket.address();
    return { host: a.address, port: a.port };
  }

  #mappingKey(privateKey: string, host: string, port: number): string {
    switch (this.options.mapping) {
      case 'endpoint-independent':
        return privateKey;
      case 'address-dependent':
        return `${privateKey}|${host}`;
      case 'address-and-port-dependent':
        return `${privateKey}|${host}:${port}`;
    }
  }

  #permitKey(host: string, port: number): string {
    return this.options.filtering === 'address-dependent' ? host : `${host}:${port}`;
  }

  #onInside(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    const h = decodeHeader(msg);
    if (h === null) {
      this.#stats.dropped++;
      return;
    }
    const privateKey = `${rinfo.address}:${rinfo.port}`;
    const key = this.#mappingKey(privateKey, h.host, h.port);
    let m = this.#mappings.get(key);
    if (m === undefined) {
      if (this.#mappings.size >= this.options.maxMappings) {
        this.#stats.dropped++;
        return;
      }
      const created: Mapping = {
        key,
        privateKey,
        priv: { host: rinfo.address, port: rinfo.port },
        socket: null,
        ready: Promise.resolve(null),
        permits: new Set(),
        lastUsed: Date.now(),
      };
      created.ready = bindUdp4(this.options.publicHost).then(
        (s) => {
          if (this.#closed || this.#mappings.get(key) !== created) {
            void closeUdp(s);
            return null;
          }
          created.socket = s;
          s.on('message', (data, from) => this.#onOutside(created, data, from));
          this.#stats.mappingsCreated++;
          return s;
        },
        () => null,
      );
      this.#mappings.set(key, created);
      m = created;
    }
    const mapping = m;
    mapping.lastUsed = Date.now();
    mapping.permits.add(this.#permitKey(h.host, h.port));
    // Chain on `ready` so packets leave in order even while the public socket is still binding.
    mapping.ready = mapping.ready.then((s) => {
      if (s === null || this.#closed) {
        this.#stats.dropped++;
        return s;
      }
      this.#stats.outbound++;
      s.send(h.payload, h.port, h.host);
      return s;
    });
  }

  #onOutside(m: Mapping, data: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    let allowed: boolean;
    switch (this.options.filtering) {
      case 'endpoint-independent':
        allowed = true;
        break;
      case 'address-dependent':
        allowed = m.permits.has(from.address);
        break;
      case 'address-and-port-dependent':
        allowed = m.permits.has(`${from.address}:${from.port}`);
        break;
    }
    const mapped = m.socket?.address();
    if (!allowed) {
      this.#stats.filtered++;
      const ev: NatFilteredEvent = {
        from: { host: from.address, port: from.port },
        mapping: { host: mapped?.address ?? '', port: mapped?.port ?? 0 },
      };
      this.emit('filtered', ev);
      return;
    }
    this.#stats.inbound++;
    this.#gateway.send(encodeHeader(from.address, from.port, data), m.priv.port, m.priv.host);
  }

  #expire(): void {
    const now = Date.now();
    for (const [key, m] of this.#mappings) {
      if (now - m.lastUsed >= this.options.mappingTimeoutMs) {
        this.#mappings.delete(key);
        if (m.socket !== null) void closeUdp(m.socket);
      }
    }
  }

  /** Close every mapping socket, every client and the gateway. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    const socks: Socket[] = [this.#gateway];
    for (const m of this.#mappings.values()) {
      const s = await m.ready.catch(() => null);
      if (s !== null) socks.push(s);
    }
    this.#mappings.clear();
    await Promise.all([...this.#clients].map((c) => c.close()));
    await Promise.all(socks.map(closeUdp));
  }
}

/** Create a NAT simulator (binds its inside gateway). */
export function createNat(opts: NatOptions): Promise<NatSimulator> {
  return NatSimulator.create(opts);
}

/** `rinfo` of a datagram a client receives: the outside source as seen through the NAT. */
export interface NatRemoteInfo {
  address: string;
  port: number;
  family: 'IPv4';
  size: number;
}

/**
 * A UDP socket behind a {@link NatSimulator}: send to outside IPv4 endpoints, receive `'message'`
 * `(msg, rinfo)` events. Outside hosts see the NAT's public mapping, never the client's own socket.
 */
export class NatClient extends EventEmitter<{ message: [Buffer, NatRemoteInfo] }> {
  readonly #sock: Socket;
  readonly #gateway: UdpEndpoint;
  readonly #onClose: () => void;
  #closed = false;

  /** @internal use {@link NatSimulator.createClient}. */
  constructor(sock: Socket, gateway: UdpEndpoint, onClose: () => void) {
    super();
    this.#sock = sock;
    this.#gateway = gateway;
    this.#onClose = onClose;
    sock.on('message', (msg) => {
      const h = decodeHeader(msg);
      if (h === null) return;
      this.emit('message', h.payload, {
        address: h.host,
        port: h.port,
        family: 'IPv4',
        size: h.payload.length,
      });
    });
  }

  /** The client's private endpoint (inside the NAT). */
  address(): UdpEndpoint {
    const a = this.#sock.address();
    return { host: a.address, port: a.port };
  }

  /** Send `buf` to the outside IPv4 endpoint `address:port` through the NAT. */
  send(buf: Uint8Array, port: number, address: string): void {
    if (this.#closed) return;
    if (!isIPv4(address)) throw new TypeError(`nat client: ${address} is not an IPv4 literal`);
    this.#sock.send(encodeHeader(address, port, buf), this.#gateway.port, this.#gateway.host);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    await closeUdp(this.#sock);
  }
}
