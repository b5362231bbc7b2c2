/** Checks of the manager's API arguments and relayed entries (typed errors, never bare ones). */
import { InvalidArgumentError } from '../../coreapi/errors.js';
import * as C from './constants.js';
import { TrustError } from './errors.js';

export function checkNodeId(nodeId: number, self: number): void {
  if (!Number.isInteger(nodeId) || nodeId <= 0 || nodeId > 0xffffffff) {
    throw new InvalidArgumentError(`invalid node ID ${nodeId}`, { details: { nodeId } });
  }
  if (nodeId === self) throw new InvalidArgumentError('a node cannot trust itself', { details: { nodeId } });
}

export function checkText(what: string, text: string): void {
  if (typeof text !== 'string') throw new InvalidArgumentError(`${what} must be a string`);
  const n = Buffer.byteLength(text, 'utf8');
  if (n > C.MAX_TEXT_BYTES) {
    throw new InvalidArgumentError(`${what} is ${n} bytes (max ${C.MAX_TEXT_BYTES})`, {
      details: { bytes: n, max: C.MAX_TEXT_BYTES },
    });
  }
}

export function noPending(nodeId: number): TrustError {
  return new TrustError('ERR_TRUST_PENDING_NOT_FOUND', `no pending handshake from node ${nodeId}`, {
    details: { nodeId },
  });
}

export function validPeer(id: unknown, self: number): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id > 0 && id <= 0xffffffff && id !== self;
}

/** What a registry lookup says about a node, checked. */
export interface RegisteredPeer {
  /** Base64 Ed25519 key as the registry gave it. */
  readonly key: string;
  /** Its network IDs (only valid 16-bit IDs; anything else in the answer is ignored). */
  readonly networks: readonly number[];
}

/**
 * A lookup answer as a {@link RegisteredPeer}, or null when it has no usable key. Registry answers are input
 * like any other: what is kept here ends up in trust.json, which must stay loadable.
 */
export function registeredPeer(answer: unknown): RegisteredPeer | null {
  if (typeof answer !== 'object' || answer === null) return null;
  const a = answer as { public_key?: unknown; networks?: unknown };
  if (typeof a.public_key !== 'string') return null;
  const networks = Array.isArray(a.networks)
    ? (a.networks as unknown[]).filter(
        (n): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff,
      )
    : [];
  return { key: a.public_key, networks };
}
