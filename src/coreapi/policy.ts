/**
 * Network policy types (the reference's PolicyRunner / PolicyManager). The daemon consults every runner a
 * peer belongs to; deny wins across networks, and the default is allow.
 */

export type PolicyEventType = 'connect' | 'dial' | 'datagram' | 'join' | 'leave' | 'cycle';

export const POLICY_EVENT_CONNECT: PolicyEventType = 'connect';
export const POLICY_EVENT_DIAL: PolicyEventType = 'dial';
export const POLICY_EVENT_DATAGRAM: PolicyEventType = 'datagram';
export const POLICY_EVENT_JOIN: PolicyEventType = 'join';
export const POLICY_EVENT_LEAVE: PolicyEventType = 'leave';
export const POLICY_EVENT_CYCLE: PolicyEventType = 'cycle';

export type PolicyDirection = 'in' | 'out';

/** The inputs of a port-gate decision. */
export interface PortGateRequest {
  readonly event: PolicyEventType;
  readonly port: number;
  readonly peerNodeId: number;
  readonly payloadSize: number;
  readonly direction: PolicyDirection;
  readonly localTags: readonly string[];
  readonly nodeInfoTags: readonly string[];
}

/** One network's running policy. */
export interface PolicyRunner {
  readonly networkId: number;
  hasMember(peerNodeId: number): boolean;
  /** Allow (true) or deny; default allow when no rule denies. */
  evaluatePortGate(request: PortGateRequest): boolean;
  /** Side-effect-only action events (cycle/join/leave) with a caller-built context. */
  evaluateActions(event: PolicyEventType, context: Readonly<Record<string, unknown>>): void;
  status(): Record<string, unknown>;
  peerList(): Record<string, unknown>[];
  forceCycle(): Record<string, unknown>;
  reconcileNow(): void;
  /** The policy document as JSON text. */
  policyJson(): string;
  stop(): void;
}

/** The per-network registry of policy runners. */
export interface PolicyManager {
  /** Compile `policyJson` for `networkId`; an existing runner for that network is stopped first. */
  start(networkId: number, policyJson: string): PolicyRunner;
  /** No-op when absent. */
  stop(networkId: number): void;
  get(networkId: number): PolicyRunner | undefined;
  all(): PolicyRunner[];
  stopAll(): void;
  loadPersisted(): Promise<void>;
}
