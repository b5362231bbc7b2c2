/**
 * Standby side of replication: connects to the primary, subscribes with the replication token, replaces its
 * state with the snapshot it receives and then applies change batches. Silence longer than the read deadline
 * (45 s; the primary sends a heartbeat every 15 s) or a lost connection leads to a reconnect after 3 s and a
 * fresh snapshot.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../coreapi/logger.js';
import {
  REPLICATION_MAX_MESSAGE_BYTES,
  REPLICATION_READ_DEADLINE_MS,
  REPLICATION_RECONNECT_MS,
  CLIENT_CONNECT_TIMEOUT_MS,
} from './constants.js';
import { dialRegistry, type RegistryTlsOptions } from './dial.js';
import { encodeFrame, FrameDecoder } from './frame-codec.js';
import type { RegistryState } from './registry-state.js';
import { applyChanges, loadSnapshot, type ChangesJson } from './state-codec.js';

export interface FollowerOptions {
  host: string;
  port: number;
  token: string;
  tls?: RegistryTlsOptions | boolean;
  logger: Logger;
  readDeadlineMs?: number;
  reconnectMs?: number;
}

/** Follower states. */
export enum FollowerState {
  Idle = 'idle',
  Connecting = 'connecting',
  /** Connected and subscribed; waiting for the first snapshot. */
  Subscribed = 'subscribed',
  /** Snapshot applied; following changes. */
  Synced = 'synced',
  Stopped = 'stopped',
}

export class ReplicationFollower {
  readonly #state: RegistryState;
  readonly #opts: FollowerOptions;
  #status = FollowerState.Idle;
  #socket: Socket | null = null;
  #retry: NodeJS.Timeout | null = null;
  #lastSeq = 0;
  #snapshots = 0;
  #batches = 0;
  #lastError: string | null = null;
  /** Called after each applied snapshot or batch. */
  onUpdate: () => void = () => {};

  constructor(state: RegistryState, options: FollowerOptions) {
    this.#state = state;
    this.#opts = options;
  }

  get status(): FollowerState {
    return this.#status;
  }

  get stats(): { lastSeq: number; snapshots: number; batches: number; lastError: string | null } {
    return {
      lastSeq: this.#lastSeq,
      snapshots: this.#snapshots,
      batches: this.#batches,
      lastError: this.#lastError,
    };
  }

  start(): void {
    if (this.#status !== FollowerState.Idle) return;
    void this.#connect();
  }

  stop(): void {
    this.#status = FollowerState.Stopped;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    this.#socket?.destroy();
    this.#socket = null;
  }

  async #connect(): Promise<void> {
    if (this.#status === FollowerState.Stopped) return;
    this.#status = FollowerState.Connecting;
    const { host, port, token, logger } = this.#opts;
    let sock: Socket;
    try {
      sock = await dialRegistry({ host, port, tls: this.#opts.tls, timeoutMs: CLIENT_CONNECT_TIMEOUT_MS });
    } catch (err) {
      this.#failed(err instanceof Error ? err.message : String(err));
      return;
    }
    if ((this.#status as FollowerState) === FollowerState.Stopped) {
      sock.destroy();
      return;
    }
    this.#socket = sock;
    this.#status = FollowerState.Subscribed;
    const decoder = new FrameDecoder(REPLICATION_MAX_MESSAGE_BYTES);
    sock.setTimeout(this.#opts.readDeadlineMs ?? REPLICATION_READ_DEADLINE_MS, () => {
      logger.warn({ primary: `${host}:${port}` }, 'replication read deadline passed; reconnecting');
      sock.destroy();
    });
    const onFrame = (payload: Buffer): void => this.#onFrame(payload, sock);
    sock.on('data', (chunk: Buffer) => {
      if (!decoder.push(chunk, onFrame)) {
        this.#lastError = `replication frame of ${decoder.oversizedLength} bytes exceeds the limit`;
        sock.destroy();
      }
    });
    sock.on('error', (err) => {
      this.#lastError = err.message;
    });
    sock.on('close', () => {
      if (this.#socket === sock) this.#socket = null;
      this.#failed(this.#lastError ?? 'connection closed');
    });
    sock.write(encodeFrame(JSON.stringify({ type: 'subscribe_replication', token })));
    logger.info({ primary: `${host}:${port}` }, 'standby subscribing to primary');
  }

  #onFrame(payload: Buffer, sock: Socket): void {
    // Frames that arrive in the same chunk after the connection was dropped are not applied.
    if (sock.destroyed) return;
    let msg: { type?: unknown; seq?: unknown; snapshot?: unknown; changes?: unknown; error?: unknown };
    try {
      msg = JSON.parse(payload.toString('utf8')) as typeof msg;
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new TypeError('not an object');
    } catch {
      this.#lastError = 'malformed replication frame';
      sock.destroy();
      return;
    }
    if (typeof msg.seq === 'number') this.#lastSeq = msg.seq;
    switch (msg.type) {
      case 'replication_snapshot':
        try {
          loadSnapshot(this.#state, msg.snapshot, this.#state.nowSec());
        } catch (err) {
          this.#lastError = err instanceof Error ? err.message : String(err);
          sock.destroy();
          return;
        }
        this.#snapshots++;
        this.#status = FollowerState.Synced;
        this.onUpdate();
        break;
      case 'replication_changes':
        if (this.#status !== FollowerState.Synced) return;
        try {
          applyChanges(this.#state, (msg.changes ?? {}) as ChangesJson);
        } catch (err) {
          this.#lastError = err instanceof Error ? err.message : String(err);
          sock.destroy();
          return;
        }
        this.#batches++;
        this.onUpdate();
        break;
      case 'heartbeat':
        break;
      case 'error':
        this.#lastError = typeof msg.error === 'string' ? msg.error : 'primary refused replication';
        this.#opts.logger.error({ error: this.#lastError }, 'primary refused replication');
        sock.destroy();
        break;
      default:
        break;
    }
  }

  #failed(reason: string): void {
    if (this.#status === FollowerState.Stopped) return;
    this.#lastError = reason;
    this.#status = FollowerState.Connecting;
    if (this.#retry) return;
    this.#opts.logger.warn({ reason }, 'replication connection lost; retrying');
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.#connect();
    }, this.#opts.reconnectMs ?? REPLICATION_RECONNECT_MS);
    this.#retry.unref();
  }
}
