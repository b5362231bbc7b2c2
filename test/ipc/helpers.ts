/**
 * Test fixtures for the IPC layer: a fake DaemonControl (the management side; the transport under it is the
 * real in-memory Streams network), temp socket paths, and a raw framed client for byte-level tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { formatAddr, type Addr } from '../../src/coreapi/addr.js';
import { PilotError } from '../../src/coreapi/errors.js';
import type { Datagram, DatagramSocket, Streams } from '../../src/coreapi/streams.js';
import type { DaemonControl, JsonObject } from '../../src/ipc/daemon-control.js';
import { createIpcServer, type IpcServer, type IpcServerOptions } from '../../src/ipc/server.js';
import type { MemoryNetwork } from '../../src/runtime/memory-streams.js';
import { FrameDecoder } from '../../src/ipc/frame-decoder.js';
import { frame } from '../../src/ipc/protocol.js';

/** A fresh temp dir; `cleanup` removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-ipc-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh temp dir removed after the test; returns a socket path inside it. */
export function tempSocketPath(name = 'pilot.sock'): string {
  const { dir, cleanup } = tempDir();
  onTestFinished(cleanup);
  return join(dir, name);
}

export interface TestDaemon {
  readonly streams: Streams;
  readonly control: FakeControl;
  readonly server: IpcServer;
  readonly socketPath: string;
  close(): Promise<void>;
}

/**
 * An IPC server over one node of an in-memory network, with a FakeControl. Datagrams that reach the node on
 * `tapPorts` are fed to the server. The caller closes it (or registers `close` with onTestFinished).
 */
export async function startDaemon(
  net: MemoryNetwork,
  addr: Addr,
  options: Partial<Omit<IpcServerOptions, 'streams' | 'control'>> & { tapPorts?: number[] } = {},
): Promise<TestDaemon> {
  const { dir, cleanup } = tempDir();
  const streams = net.node(addr);
  const control = new FakeControl(addr);
  await control.tap(streams, options.tapPorts ?? []);
  const socketPath = options.socketPath ?? join(dir, 'pilot.sock');
  const server = await createIpcServer({ ...options, socketPath, streams, control });
  return {
    streams,
    control,
    server,
    socketPath,
    close: async () => {
      await server.close();
      control.close();
      cleanup();
    },
  };
}

export interface ControlCall {
  op: string;
  args: unknown[];
}

/**
 * DaemonControl for tests: records calls, answers with reference-shaped JSON, and feeds the datagrams that
 * arrive on `datagramPorts` of the node's Streams to the IPC server (the node composition's job in the daemon).
 */
export class FakeControl implements DaemonControl {
  readonly calls: ControlCall[] = [];
  readonly addr: Addr;
  readonly #handlers = new Set<(d: Datagram) => void>();
  readonly #sockets: DatagramSocket[] = [];
  /** Make the next call of `op` wait for this promise. */
  readonly gates = new Map<string, Promise<void>>();
  closeable = new Set<number>();
  hostname = '';
  /** Extra keys merged into info(). */
  infoExtra: JsonObject = {};

  constructor(addr: Addr) {
    this.addr = addr;
  }

  /** Forward datagrams received by `streams` on these ports to the IPC server. */
  async tap(streams: Streams, ports: number[]): Promise<void> {
    for (const p of ports) {
      const sock = await streams.bindDatagram(p);
      this.#sockets.push(sock);
      void (async () => {
        for await (const d of sock) this.emit(d);
      })();
    }
  }

  emit(d: Datagram): void {
    for (const h of this.#handlers) h(d);
  }

  get datagramSubscribers(): number {
    return this.#handlers.size;
  }

  close(): void {
    for (const s of this.#sockets) s.close();
  }

  async #call(op: string, args: unknown[], result: () => JsonObject): Promise<JsonObject> {
    this.calls.push({ op, args });
    const gate = this.gates.get(op);
    if (gate) await gate;
    return result();
  }

  address(): Addr {
    return this.addr;
  }
  info(): Promise<JsonObject> {
    return this.#call('info', [], () => ({
      node_id: this.addr.node,
      address: formatAddr(this.addr),
      hostname: this.hostname,
      uptime_secs: 1.5,
      connections: 0,
      ports: 0,
      peers: 0,
      encrypted_peers: 0,
      authenticated_peers: 0,
      encrypt: true,
      identity: false,
      public_key: '',
      owner: '',
      bytes_sent: 0,
      bytes_recv: 0,
      pkts_sent: 0,
      pkts_recv: 0,
      peer_list: [],
      conn_list: [],
      ...this.infoExtra,
    }));
  }
  resolveHostname(hostname: string): Promise<JsonObject> {
    return this.#call('resolveHostname', [hostname], () => {
      if (hostname !== 'alpha')
        throw new PilotError('ERR_HOSTNAME_NOT_FOUND', `hostname "${hostname}" not found`);
      return { node_id: 42, address: '0:0000.0000.002A', public: true, hostname };
    });
  }
  setHostname(hostname: string): Promise<JsonObject> {
    return this.#call('setHostname', [hostname], () => {
      this.hostname = hostname;
      return { node_id: this.addr.node, hostname };
    });
  }
  setVisibility(isPublic: boolean): Promise<JsonObject> {
    return this.#call('setVisibility', [isPublic], () => ({
      node_id: this.addr.node,
      visibility: isPublic ? 'public' : 'private',
    }));
  }
  deregister(): Promise<JsonObject> {
    return this.#call('deregister', [], () => ({}));
  }
  setTags(tags: string[]): Promise<JsonObject> {
    return this.#call('setTags', [tags], () => ({ node_id: this.addr.node, tags }));
  }
  setWebhook(url: string): Promise<JsonObject> {
    return this.#call('setWebhook', [url], () => ({ webhook: url }));
  }
  setTaskExec(enabled: boolean): Promise<JsonObject> {
    return this.#call('setTaskExec', [enabled], () => ({ node_id: this.addr.node, task_exec: enabled }));
  }
  handshakeSend(nodeId: number, justification: string): Promise<JsonObject> {
    return this.#call('handshakeSend', [nodeId, justification], () => ({ status: 'sent', node_id: nodeId }));
  }
  handshakeApprove(nodeId: number): Promise<JsonObject> {
    return this.#call('handshakeApprove', [nodeId], () => ({ status: 'approved', node_id: nodeId }));
  }
  handshakeReject(nodeId: number, reason: string): Promise<JsonObject> {
    return this.#call('handshakeReject', [nodeId, reason], () => ({ status: 'rejected', node_id: nodeId }));
  }
  handshakePending(): Promise<JsonObject> {
    return this.#call('handshakePending', [], () => ({
      pending: [{ node_id: 9, public_key: 'a2V5', justification: 'hi', received_at: 1700000000 }],
    }));
  }
  handshakeTrusted(): Promise<JsonObject> {
    return this.#call('handshakeTrusted', [], () => ({
      trusted: [
        { node_id: 9, public_key: 'a2V5', approved_at: '2024-01-01T00:00:00Z', mutual: true, network: 0 },
      ],
    }));
  }
  handshakeRevoke(nodeId: number): Promise<JsonObject> {
    return this.#call('handshakeRevoke', [nodeId], () => {
      if (nodeId !== 9) throw new PilotError('ERR_NOT_TRUSTED', `node ${nodeId} is not trusted`);
      return { status: 'revoked', node_id: nodeId };
    });
  }
  closeConnection(connId: number): boolean {
    this.calls.push({ op: 'closeConnection', args: [connId] });
    return this.closeable.delete(connId);
  }
  onDatagram(handler: (d: Datagram) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }
}

/** A bare framed client for byte-level tests (what a reference driver puts on the wire). */
export class RawClient {
  readonly socket: Socket;
  readonly #decoder = new FrameDecoder();
  readonly #queue: Buffer[] = [];
  readonly #waiters: Array<(m: Buffer) => void> = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      let m: Buffer | null;
      while ((m = this.#decoder.next()) !== null) {
        const copy = Buffer.from(m);
        const w = this.#waiters.shift();
        if (w) w(copy);
        else this.#queue.push(copy);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ path });
      s.once('connect', () => {
        const c = new RawClient(s);
        onTestFinished(() => {
          s.destroy();
        });
        resolve(c);
      });
      s.once('error', reject);
    });
  }

  /** Send one message (command byte + payload), framed. */
  send(message: Buffer | string): void {
    this.socket.write(
      frame(typeof message === 'string' ? Buffer.from(message.replace(/\s/g, ''), 'hex') : message),
    );
  }

  /** Send raw bytes (no framing). */
  raw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next message from the daemon. */
  next(timeoutMs = 3000): Promise<Buffer> {
    const q = this.#queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(on);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (m: Buffer): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.#waiters.push(on);
    });
  }

  /** Resolves when the daemon closed the connection. */
  waitClosed(timeoutMs = 3000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket not closed')), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
