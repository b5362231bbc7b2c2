/**
 * Primary side of replication. A standby sends `{"type":"subscribe_replication","token":…}`; with the right token
 * it receives `{"type":"replication_snapshot","seq","snapshot"}` at once, then `{"type":"replication_changes",
 * "seq","changes"}` batches (every changed entity in its current form, sent within a few milliseconds of the
 * change) and `{"type":"heartbeat"}` every 15 s. A standby that cannot keep up is disconnected; it reconnects
 * and starts again from a fresh snapshot.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../coreapi/logger.js';
import { REPLICATION_BATCH_MS, REPLICATION_HEARTBEAT_MS } from './constants.js';
import { RegistryRequestError } from './errors.js';
import { encodeFrame } from './frame-codec.js';
import { secretEquals } from './handler-context.js';
import type { RegistryState } from './registry-state.js';
import { buildChanges, snapshotData } from './state-codec.js';
import type { RequestMessage } from './validation.js';

/** Unsent bytes after which a standby is considered stuck and dropped. */
const SUBSCRIBER_MAX_BACKLOG = 256 * 1024 * 1024;

export interface ReplicationHubOptions {
  token: string | undefined;
  logger: Logger;
  batchMs?: number;
  heartbeatMs?: number;
}

export class ReplicationHub {
  readonly #state: RegistryState;
  readonly #token: string | undefined;
  readonly #logger: Logger;
  readonly #batchMs: number;
  readonly #heartbeatMs: number;
  readonly #subs = new Set<Socket>();
  #seq = 0;
  #batchTimer: NodeJS.Timeout | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;

  constructor(state: RegistryState, options: ReplicationHubOptions) {
    this.#state = state;
    this.#token = options.token || undefined;
    this.#logger = options.logger;
    this.#batchMs = options.batchMs ?? REPLICATION_BATCH_MS;
    this.#heartbeatMs = options.heartbeatMs ?? REPLICATION_HEARTBEAT_MS;
    state.changes.onRecord = () => this.#scheduleBatch();
  }

  get subscribers(): number {
    return this.#subs.size;
  }

  /** Throws the error to answer when the request may not subscribe. */
  authorize(msg: RequestMessage): void {
    if (this.#token === undefined) {
      throw new RegistryRequestError(
        'ERR_REGISTRY_REPLICATION_DISABLED',
        'replication disabled: no replication token configured',
      );
    }
    const token = msg.token;
    if (typeof token !== 'string' || !secretEquals(token, this.#token)) {
      throw new RegistryRequestError('ERR_REGISTRY_REPLICATION_TOKEN', 'invalid replication token');
    }
  }

  /** Start streaming to an authorised standby connection. */
  add(socket: Socket): void {
    if (this.#subs.size > 0) this.flush();
    this.#state.changes.recording = true;
    this.#subs.add(socket);
    socket.once('close', () => this.#remove(socket));
    const text = JSON.stringify({
      type: 'replication_snapshot',
      seq: ++this.#seq,
      snapshot: snapshotData(this.#state),
    });
    this.#send(socket, text);
    if (this.#heartbeatTimer === null) {
      this.#heartbeatTimer = setInterval(
        () => this.#broadcast(JSON.stringify({ type: 'heartbeat' })),
        this.#heartbeatMs,
      );
      this.#heartbeatTimer.unref();
    }
    this.#logger.info({ remote: socket.remoteAddress, standbys: this.#subs.size }, 'standby subscribed');
  }

  /** Send the pending change batch now. */
  flush(): void {
    if (this.#batchTimer !== null) {
      clearTimeout(this.#batchTimer);
      this.#batchTimer = null;
    }
    if (this.#subs.size === 0) return;
    const keys = this.#state.changes.take();
    const changes = buildChanges(this.#state, keys);
    if (Object.keys(changes).length === 0) return;
    this.#broadcast(JSON.stringify({ type: 'replication_changes', seq: ++this.#seq, changes }));
  }

  close(): void {
    if (this.#subs.size > 0) this.flush();
    if (this.#batchTimer) clearTimeout(this.#batchTimer);
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    this.#batchTimer = null;
    this.#heartbeatTimer = null;
    for (const s of this.#subs) s.end();
    this.#subs.clear();
    this.#state.changes.recording = false;
  }

  #scheduleBatch(): void {
    if (this.#batchTimer !== null) return;
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = null;
      this.flush();
    }, this.#batchMs);
  }

  #broadcast(text: string): void {
    if (this.#subs.size === 0) return;
    const frame = encodeFrame(text);
    for (const s of this.#subs) this.#sendFrame(s, frame);
  }

  #send(socket: Socket, text: string): void {
    this.#sendFrame(socket, encodeFrame(text));
  }

  #sendFrame(socket: Socket, frame: Buffer): void {
    if (socket.destroyed) return;
    if (socket.writableLength > SUBSCRIBER_MAX_BACKLOG) {
      this.#logger.warn({ remote: socket.remoteAddress }, 'standby cannot keep up; disconnecting it');
      socket.destroy();
      return;
    }
    socket.write(frame);
  }

  #remove(socket: Socket): void {
    if (!this.#subs.delete(socket)) return;
    if (this.#subs.size === 0) {
      this.#state.changes.recording = false;
      if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
      this.#heartbeatTimer = null;
    }
    this.#logger.info({ remote: socket.remoteAddress, standbys: this.#subs.size }, 'standby left');
  }
}
