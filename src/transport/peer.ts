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
  /** When `session` was installed (the previous session is kept for a grace period from then). */
  installedAt = 0;
  /**
   * A new key the peer sent while the current session was confirmed: it may be a replay of a key exchange
   * from an earlier run of the peer (key exchanges carry no freshness), so the current session stays in use
   * until a frame sealed under the candidate authenticates (or the peer keeps asking for keys on our path
   * while the current session stays silent: it restarted). Never used to seal.
   */
  candidate: Session | null = null;
  candidateEd: Buffer | null = null;
  candidateSig: Buffer | null = null;
  /** `session.sent` when the candidate arrived. */
  candidateSent = 0;
  /** When we first saw frames sealed under the current session since the candidate arrived (0: not yet). */
  candidateSentSeenAt = 0;
  /** When we last answered the candidate's key exchange (rate-limited). */
  candidateReplyAt = 0;
  /** When a frame last authenticated under the current session. */
  sessionRxAt = 0;
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
