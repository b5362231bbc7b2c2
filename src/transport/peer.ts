/** One row of the peer table: endpoint, session, pending queue and counters for a remote node. */
import type { Endpoint } from '../coreapi/resolver.js';
import { TrafficCounters } from './counters.js';
import type { Session } from './session.js';

export enum PeerState {
  /** Known, no session, no key exchange in progress. */
  Idle = 'idle',
  /** Waiting for an endpoint from the directory. */
  Resolving = 'resolving',
  /** Our key exchange frame is out; waiting for the peer's. */
  Keying = 'keying',
  /** A session is installed. */
  Keyed = 'keyed',
}

export class Peer {
  readonly nodeId: number;
  state = PeerState.Idle;
  endpoint: Endpoint | null = null;
  /** Endpoint family-normalised host string used for dgram.send. */
  sendHost = '';
  session: Session | null = null;
  /** The previous session, kept briefly so frames sealed before a rekey still open. */
  previous: Session | null = null;
  /** Raw Ed25519 key the peer authenticated with (or null for PILK sessions). */
  ed25519Key: Buffer | null = null;
  /** Signature bytes of the last verified PILA (skip re-verifying identical duplicates). */
  lastPilaSig: Buffer | null = null;
  /** Reached through the beacon relay instead of directly. */
  relay = false;
  /** Packets waiting for a session (encoded plaintext packets). */
  queue: Buffer[] = [];
  queueBytes = 0;
  kxAttempts = 0;
  kxSentAt = 0;
  /** When we last answered a duplicate key exchange in this session (answers are rate-limited). */
  lastDupKxReplyAt = 0;
  /** An authenticated frame arrived in the current session (the peer has our key). */
  confirmed = false;
  lastRx = 0;
  /** When the last authenticated frame arrived directly (not through the beacon relay). */
  lastDirectRx = 0;
  /**
   * When the current direct endpoint last proved itself: the key exchange that installed the session came
   * from it, or an encrypted (fresh, replay-checked) frame did.
   */
  lastVerifiedDirectAt = 0;
  lastTx = 0;
  readonly counters = new TrafficCounters();

  constructor(nodeId: number) {
    this.nodeId = nodeId;
  }

  info(): PeerInfoSnapshot {
    return {
      nodeId: this.nodeId,
      endpoint: this.endpoint ? `${this.endpoint.host}:${this.endpoint.port}` : null,
      state: this.state,
      encrypted: this.session !== null,
      authenticated: this.session?.authenticated ?? false,
      relay: this.relay,
      queued: this.queue.length,
      counters: this.counters.snapshot(),
    };
  }
}

export interface PeerInfoSnapshot {
  nodeId: number;
  endpoint: string | null;
  state: PeerState;
  encrypted: boolean;
  authenticated: boolean;
  relay: boolean;
  queued: number;
  counters: ReturnType<TrafficCounters['snapshot']>;
}
