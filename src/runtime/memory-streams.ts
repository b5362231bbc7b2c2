/**
 * An in-process network implementing the coreapi `Streams` contract, for plugin tests and the runtime's own
 * tests. `createMemoryNetwork().node(addr)` gives one node's Streams; nodes on the same network reach each
 * other by address. It passes the same compliance suite (`test/compliance/streams-suite.ts`) as the real
 * stream layer.
 *
 * Semantics: dialing a port nobody listens on rejects ERR_CONNECTION_REFUSED at once; dialing an address with
 * no node waits `timeoutMs` (default {@link MEMORY_DIAL_TIMEOUT_MS}) then rejects ERR_DIAL_TIMEOUT, like an
 * unreachable peer. Datagrams to an unbound port or an unknown node are silently dropped.
 */
import { addrEquals, formatAddr, isBroadcastAddr, type Addr } from '../coreapi/addr.js';
import {
  BroadcastUnavailableError,
  AbortError,
  ClosedError,
  ConnectionRefusedError,
  DatagramTooLargeError,
  DialTimeoutError,
  EphemeralPortsExhaustedError,
  InvalidArgumentError,
  PortInUseError,
} from '../coreapi/errors.js';
import { EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN, isValidPort } from '../coreapi/ports.js';
import type { DatagramSocket, DialOptions, Listener, Stream, Streams } from '../coreapi/streams.js';
import { MemoryDatagramSocket, MemoryListener } from './memory-listener.js';
import { MemoryStream } from './memory-stream.js';

/** Largest datagram payload the in-memory network carries (a 16-bit length minus the encrypted overhead). */
export const MEMORY_MAX_DATAGRAM = 65_535 - 70;
export const MEMORY_DIAL_TIMEOUT_MS = 10_000;

function addrKey(a: Addr): string {
  return `${a.network}:${a.node}`;
}

function checkPort(port: number): void {
  if (!isValidPort(port)) throw new InvalidArgumentError(`port ${String(port)} out of range 0..65535`);
}

export class MemoryNetwork {
  readonly #nodes = new Map<string, MemoryStreams>();

  /** The Streams of the node at `addr` (created on first use; the same object afterwards). */
  node(addr: Addr): MemoryStreams {
    const key = addrKey(addr);
    let n = this.#nodes.get(key);
    if (!n || n.closed) {
      n = new MemoryStreams(this, { network: addr.network, node: addr.node });
      this.#nodes.set(key, n);
    }
    return n;
  }

  /** @internal */
  lookup(addr: Addr): MemoryStreams | undefined {
    const n = this.#nodes.get(addrKey(addr));
    return n && !n.closed ? n : undefined;
  }

  /** @internal */
  forget(n: MemoryStreams): void {
    const key = addrKey(n.addr);
    if (this.#nodes.get(key) === n) this.#nodes.delete(key);
  }

  /** Close every node: streams reset, listeners and sockets closed. */
  async close(): Promise<void> {
    await Promise.all([...this.#nodes.values()].map((n) => n.close()));
  }
}

export class MemoryStreams implements Streams {
  readonly addr: Addr;
  readonly #net: MemoryNetwork;
  readonly #listeners = new Map<number, MemoryListener>();
  readonly #sockets = new Map<number, MemoryDatagramSocket>();
  readonly #streams = new Set<MemoryStream>();
  /** Local ports held by live streams (dialed ephemeral ports). */
  readonly #ephemeral = new Set<number>();
  #nextEphemeral = EPHEMERAL_PORT_MIN;
  #nextDatagramPort = EPHEMERAL_PORT_MIN;
  #nextId = 1;
  #closed = false;

  constructor(net: MemoryNetwork, addr: Addr) {
    this.#net = net;
    this.addr = addr;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Live streams of this node (for tests and leak checks). */
  get streamCount(): number {
    return this.#streams.size;
  }

  async dial(addr: Addr, port: number, options: DialOptions = {}): Promise<Stream> {
    checkPort(port);
    const { signal } = options;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    if (this.#closed) throw new ClosedError('node closed');
    // Complete asynchronously, like a real handshake.
    await Promise.resolve();
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const remote = addrEquals(addr, this.addr) ? this : this.#net.lookup(addr);
    if (!remote) return this.#unreachable(addr, port, options);
    const listener = remote.#listeners.get(port);
    const details = { addr: formatAddr(addr), port };
    if (!listener || listener.closed) throw new ConnectionRefusedError('connection refused', { details });
    const localPort = this.#allocEphemeral();
    const local = this.#track(
      new MemoryStream({
        localAddr: this.addr,
        localPort,
        remoteAddr: addr,
        remotePort: port,
        id: this.#id(),
      }),
      localPort,
    );
    const inbound = remote.#track(
      new MemoryStream({
        localAddr: remote.addr,
        localPort: port,
        remoteAddr: this.addr,
        remotePort: localPort,
        id: remote.#id(),
      }),
    );
    MemoryStream.pair(local, inbound);
    if (!listener.offer(inbound)) {
      local.destroy();
      inbound.destroy();
      throw new ConnectionRefusedError('connection refused (backlog full)', { details });
    }
    return local;
  }

  async listen(port: number): Promise<Listener> {
    checkPort(port);
    if (this.#closed) throw new ClosedError('node closed');
    if (this.#listeners.has(port) || this.#ephemeral.has(port)) {
      throw new PortInUseError(`port ${port} already in use`, { details: { port } });
    }
    const l = new MemoryListener(this.addr, port, () => {
      if (this.#listeners.get(port) === l) this.#listeners.delete(port);
    });
    this.#listeners.set(port, l);
    return l;
  }

  async sendDatagram(
    addr: Addr,
    port: number,
    data: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    checkPort(port);
    if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
    if (this.#closed) throw new ClosedError('node closed');
    if (isBroadcastAddr(addr)) {
      throw new BroadcastUnavailableError(undefined, { details: { addr: formatAddr(addr), port } });
    }
    if (data.length > MEMORY_MAX_DATAGRAM) {
      throw new DatagramTooLargeError(`datagram of ${data.length} bytes exceeds ${MEMORY_MAX_DATAGRAM}`, {
        details: { size: data.length, max: MEMORY_MAX_DATAGRAM },
      });
    }
    const remote = addrEquals(addr, this.addr) ? this : this.#net.lookup(addr);
    const sock = remote ? remote.#sockets.get(port) : undefined;
    if (!sock) return;
    const copy = Buffer.from(data);
    // A fresh ephemeral source port per datagram, as the reference does.
    const srcPort = this.#nextDatagramPort;
    this.#nextDatagramPort = srcPort === EPHEMERAL_PORT_MAX ? EPHEMERAL_PORT_MIN : srcPort + 1;
    // Deliver on a later tick, as a network would.
    queueMicrotask(() => sock.deliver({ src: this.addr, srcPort, dstPort: port, data: copy }));
  }

  async bindDatagram(port: number): Promise<DatagramSocket> {
    checkPort(port);
    if (this.#closed) throw new ClosedError('node closed');
    if (this.#sockets.has(port)) {
      throw new PortInUseError(`datagram port ${port} already bound`, { details: { port } });
    }
    const s = new MemoryDatagramSocket(port, () => {
      if (this.#sockets.get(port) === s) this.#sockets.delete(port);
    });
    this.#sockets.set(port, s);
    return s;
  }

  /** Close the node: every stream is reset, listeners and datagram sockets close. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#net.forget(this);
    for (const s of [...this.#streams]) s.destroy();
    await Promise.all([...this.#listeners.values()].map((l) => l.close()));
    for (const s of [...this.#sockets.values()]) s.close();
  }

  #id(): number {
    return this.#nextId++;
  }

  #track(s: MemoryStream, ephemeralPort?: number): MemoryStream {
    this.#streams.add(s);
    s.once('close', () => {
      this.#streams.delete(s);
      if (ephemeralPort !== undefined) this.#ephemeral.delete(ephemeralPort);
    });
    return s;
  }

  #allocEphemeral(): number {
    const span = EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1;
    for (let i = 0; i < span; i++) {
      const p = this.#nextEphemeral;
      this.#nextEphemeral = p === EPHEMERAL_PORT_MAX ? EPHEMERAL_PORT_MIN : p + 1;
      if (!this.#ephemeral.has(p) && !this.#listeners.has(p)) {
        this.#ephemeral.add(p);
        return p;
      }
    }
    throw new EphemeralPortsExhaustedError();
  }

  #unreachable(addr: Addr, port: number, options: DialOptions): Promise<Stream> {
    const ms = options.timeoutMs ?? MEMORY_DIAL_TIMEOUT_MS;
    const { signal } = options;
    return new Promise<Stream>((_resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new AbortError(undefined, { cause: signal?.reason }));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        reject(new DialTimeoutError(`dial ${formatAddr(addr)}:${port} timed out after ${ms} ms`));
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A fresh in-process network. */
export function createMemoryNetwork(): MemoryNetwork {
  return new MemoryNetwork();
}
