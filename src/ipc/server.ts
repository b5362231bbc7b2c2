/**
 * The daemon's IPC server: a Unix socket (mode 0600) speaking the reference IPC protocol to local clients
 * (pilot CLI, SDK drivers, reference drivers). Each client is an {@link IpcSession}; many can be connected
 * at once and a misbehaving one is dropped without affecting the others.
 *
 *   const ipc = await createIpcServer({ socketPath, streams, control, logger });
 *   ...
 *   await ipc.close(); // disconnects clients, removes the socket file
 *
 * Startup refuses a path where a live daemon answers (ERR_IPC_SOCKET_IN_USE) and replaces a stale socket
 * file. Every datagram the node receives (`control.onDatagram`) goes to every reference client as RecvFrom,
 * and to extension clients that bound its destination port.
 *
 * A client that stops reading its socket while the daemon has data queued for it (replies, Recv data,
 * datagrams) is dropped after `clientStallTimeoutMs` without reading any of it, exactly as if it had
 * disconnected: its streams are closed and its ports released. A slow client that keeps reading is kept.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { InvalidArgumentError } from '../coreapi/errors.js';
import { silentLogger, type Logger } from '../coreapi/logger.js';
import type { Datagram, Streams } from '../coreapi/streams.js';
import {
  DEFAULT_SOCKET_PATH,
  IPC_DEFAULT_STALL_TIMEOUT_MS,
  IPC_DEFAULT_WINDOW,
  IPC_MIN_WINDOW,
} from './constants.js';
import type { DaemonControl } from './daemon-control.js';
import { encodeRecvFrom, frame } from './protocol.js';
import { IpcSession } from './server-session.js';
import {
  forgetOnExit,
  listenPrivate,
  prepareSocketPath,
  removeOnExit,
  removeSocketFile,
} from './socket-file.js';

export interface IpcServerOptions {
  /** Unix socket path (default `/tmp/pilot.sock`). */
  socketPath?: string;
  streams: Streams;
  control: DaemonControl;
  logger?: Logger;
  /** Clients beyond this are disconnected on arrival (default 256). */
  maxClients?: number;
  /** Per-connection flow-control window offered to extension clients (default 512 KiB). */
  window?: number;
  /** How long a connection closed by its client may take to finish (FIN both ways) before reset (10 s). */
  closeLingerMs?: number;
  /** Drop datagrams for a client whose socket has more than this queued (default 4 MiB). */
  datagramBacklogBytes?: number;
  /**
   * Connections one client may hold, dialled, accepted or still closing (default 1024): more dials fail with
   * ERR_TOO_MANY_CONNECTIONS and more inbound connections on its ports are reset.
   */
  maxConnsPerClient?: number;
  /**
   * Drop a client whose socket has been blocked (the daemon has more queued for it than the socket takes)
   * with none of the queued bytes read for this long, in ms (default 60 s; 0 or Infinity = never). The drop
   * is a disconnect: its streams are closed and its ports released. A client that reads, however slowly,
   * is kept. Rejects ERR_INVALID_ARG when negative or not a number.
   */
  clientStallTimeoutMs?: number;
}

enum ServerState {
  Listening = 'listening',
  Closed = 'closed',
}

const SOCKET_HIGH_WATER_MARK = 256 * 1024;

export class IpcServer {
  readonly socketPath: string;
  readonly #server: Server;
  readonly #ino: number;
  readonly #log: Logger;
  readonly #sessions = new Set<IpcSession>();
  readonly #maxClients: number;
  readonly #unsubscribe: () => void;
  #state = ServerState.Listening;
  #closing: Promise<void> | null = null;

  /** @internal use {@link createIpcServer} */
  constructor(
    socketPath: string,
    server: Server,
    ino: number,
    options: Required<Omit<IpcServerOptions, 'socketPath'>>,
  ) {
    this.socketPath = socketPath;
    this.#server = server;
    this.#ino = ino;
    this.#log = options.logger;
    this.#maxClients = options.maxClients;
    let nextId = 1;
    const deps = {
      streams: options.streams,
      control: options.control,
      logger: options.logger,
      window: options.window,
      lingerMs: options.closeLingerMs,
      datagramBacklog: options.datagramBacklogBytes,
      maxConns: options.maxConnsPerClient,
      stallTimeoutMs: options.clientStallTimeoutMs,
      onClose: (s: IpcSession) => this.#sessions.delete(s),
    };
    server.on('connection', (socket: Socket) => {
      if (this.#state !== ServerState.Listening || this.#sessions.size >= this.#maxClients) {
        this.#log.warn({ clients: this.#sessions.size }, 'ipc client refused: too many clients');
        socket.destroy();
        return;
      }
      this.#sessions.add(new IpcSession(nextId++, socket, deps));
    });
    server.on('error', (err: Error) => this.#log.error({ err: err.message }, 'ipc server error'));
    this.#unsubscribe = options.control.onDatagram((d) => this.#fanout(d));
    removeOnExit(socketPath, ino);
  }

  /** Connected clients. */
  get clientCount(): number {
    return this.#sessions.size;
  }

  /** Disconnect every client, stop listening and remove the socket file. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = ServerState.Closed;
    this.#unsubscribe();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of [...this.#sessions]) s.destroy();
    await closed;
    await removeSocketFile(this.socketPath, this.#ino);
    forgetOnExit(this.socketPath, this.#ino);
  }

  #fanout(d: Datagram): void {
    // The reference delivers only datagrams with a payload.
    if (this.#state !== ServerState.Listening || this.#sessions.size === 0 || d.data.length === 0) return;
    let framed: Buffer;
    try {
      framed = frame(encodeRecvFrom(d.src, d.srcPort, d.dstPort, d.data));
    } catch {
      return; // larger than one IPC message: cannot be delivered
    }
    for (const s of this.#sessions) s.deliverDatagram(framed, d.dstPort);
  }
}

/**
 * Start the IPC server. Rejects ERR_IPC_SOCKET_IN_USE when a live daemon owns the path, ERR_INVALID_ARG for
 * a bad `clientStallTimeoutMs`.
 */
export async function createIpcServer(options: IpcServerOptions): Promise<IpcServer> {
  const socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
  const stall = options.clientStallTimeoutMs ?? IPC_DEFAULT_STALL_TIMEOUT_MS;
  if (typeof stall !== 'number' || Number.isNaN(stall) || stall < 0) {
    throw new InvalidArgumentError(`clientStallTimeoutMs must be a number ≥ 0, got ${String(stall)}`, {
      details: { clientStallTimeoutMs: stall },
    });
  }
  const logger = (options.logger ?? silentLogger).child({ component: 'ipc' });
  await prepareSocketPath(socketPath);
  const server = createServer({ highWaterMark: SOCKET_HIGH_WATER_MARK });
  const ino = await listenPrivate(server, socketPath);
  logger.info({ socket: socketPath }, 'ipc listening');
  return new IpcServer(socketPath, server, ino, {
    streams: options.streams,
    control: options.control,
    logger,
    maxClients: options.maxClients ?? 256,
    window: Math.max(IPC_MIN_WINDOW, options.window ?? IPC_DEFAULT_WINDOW),
    closeLingerMs: options.closeLingerMs ?? 10_000,
    datagramBacklogBytes: options.datagramBacklogBytes ?? 4 * 1024 * 1024,
    maxConnsPerClient: options.maxConnsPerClient ?? 1024,
    // Node's timers cannot wait longer than 2^31-1 ms: anything beyond (Infinity included) means never.
    clientStallTimeoutMs: stall > 0x7fffffff ? 0 : stall,
  });
}
