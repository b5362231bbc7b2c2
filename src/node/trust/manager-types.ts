/** The trust manager's options, its registry needs, the IPC row shapes and its lifecycle states. */
import type { EventBus } from '../../coreapi/events.js';
import type { Identity } from '../../coreapi/identity.js';
import type { Logger } from '../../coreapi/logger.js';
import type { Streams } from '../../coreapi/streams.js';

/** Registry calls the manager makes (RegistryClient satisfies it). */
export interface TrustRegistry {
  lookup(
    nodeId: number,
    opts?: RegistryCallOptions,
  ): Promise<{ readonly public_key: string; readonly networks?: readonly number[] }>;
  requestHandshake(toNodeId: number, justification: string, opts?: RegistryCallOptions): Promise<unknown>;
  pollHandshakes(opts?: RegistryCallOptions): Promise<{
    readonly requests?: readonly { from_node_id: number; justification?: string }[] | null;
    readonly responses?: readonly { from_node_id: number; accept: boolean }[] | null;
  }>;
  respondHandshake(peerId: number, accept: boolean, opts?: RegistryCallOptions): Promise<unknown>;
  reportTrust(peerId: number, opts?: RegistryCallOptions): Promise<unknown>;
  revokeTrust(peerId: number, opts?: RegistryCallOptions): Promise<unknown>;
}

export interface RegistryCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface TrustManagerOptions {
  streams: Streams;
  identity: Identity;
  registry: TrustRegistry;
  /** trust.json (next to the identity file); null keeps the trust state in memory only. */
  storePath: string | null;
  /** Tear down the tunnel to a peer (UdpTunnel.removePeer). */
  dropPeer(nodeId: number): void;
  events: EventBus;
  logger: Logger;
  /** Relay poll period (default 30 s); 0 disables the timer (the host then calls `poll()`). */
  pollIntervalMs?: number;
  /** Milliseconds since the epoch (tests). */
  clock?: () => number;
  /** Limit of a direct delivery before the relay is used (default 3 s). */
  directTimeoutMs?: number;
  /** Receiver read deadline (default 10 s). */
  readTimeoutMs?: number;
  /** Handshake port (default 444). */
  port?: number;
  /** Called whenever trust with a peer changes (pass `RegistryPeerResolver.invalidate`). */
  invalidatePeer?(nodeId: number): void;
  /** Pending requests kept (default 1024). */
  maxPending?: number;
}

/** How a message reached us or goes out. */
export type Via = 'direct' | 'relay';

export interface PendingRow {
  node_id: number;
  public_key: string;
  justification: string;
  /** Unix seconds. */
  received_at: number;
}

export interface TrustedRow {
  node_id: number;
  public_key: string;
  /** RFC 3339. */
  approved_at: string;
  mutual: boolean;
  network: number;
}

export enum TrustManagerState {
  Idle = 'idle',
  Starting = 'starting',
  Running = 'running',
  Stopping = 'stopping',
  Stopped = 'stopped',
}
