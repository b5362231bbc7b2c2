/**
 * What request handlers work with, and the checks they share: node lookup, signed-request authentication,
 * the admin token, and the visibility rule for private nodes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { formatAddr } from '../coreapi/addr.js';
import type { Logger } from '../coreapi/logger.js';
import type { BeaconTable } from './beacon-table.js';
import { RegistryRequestError } from './errors.js';
import type { NodeRecord } from './node-record.js';
import type { TokenBucketLimiter } from './rate-limiter.js';
import type { RegistryState } from './registry-state.js';
import type { SignatureVerifier } from './signature-verifier.js';
import { reqUint32, type RequestMessage } from './validation.js';

/** Per-request facts from the connection. */
export interface RequestContext {
  /** Source IP of the TCP connection (IPv4-mapped prefix removed). */
  readonly remoteIp: string;
}

/** Limits and secrets handlers need. */
export interface HandlerSettings {
  readonly adminToken: string | undefined;
  readonly handshakeInboxLimit: number;
  readonly inviteInboxLimit: number;
}

/** Everything a handler may use. */
export interface HandlerEnv {
  readonly state: RegistryState;
  readonly verifier: SignatureVerifier;
  readonly limiter: TokenBucketLimiter | null;
  readonly beacons: BeaconTable;
  readonly settings: HandlerSettings;
  readonly logger: Logger;
}

/** A handler returns the answer's fields; the dispatcher adds `"type": "<type>_ok"`. */
export type Handler = (msg: RequestMessage, ctx: RequestContext, env: HandlerEnv) => Record<string, unknown>;

/** Text address of a backbone node. */
export function nodeAddress(id: number): string {
  return formatAddr({ network: 0, node: id });
}

/** The node, or ERR_REGISTRY_NOT_FOUND naming it. */
export function requireNode(env: HandlerEnv, id: number, role = 'node'): NodeRecord {
  const rec = env.state.node(id);
  if (!rec) throw new RegistryRequestError('ERR_REGISTRY_NOT_FOUND', `${role} ${id} not found`);
  return rec;
}

/** Read the node ID in `field`, require the node, and verify `signature` over `challenge(id)`. */
export function authNode(
  env: HandlerEnv,
  msg: RequestMessage,
  field: string,
  challenge: (id: number) => string,
  role = 'node',
): NodeRecord {
  const id = reqUint32(msg, field);
  const rec = requireNode(env, id, role);
  env.verifier.check(rec.publicKey, challenge(id), msg.signature);
  return rec;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Checks an `admin_token` field. Returns false when the field is absent; throws ERR_REGISTRY_ADMIN_TOKEN when it
 * is present but wrong, or when `required` and absent. Comparison is constant-time.
 */
export function checkAdminToken(env: HandlerEnv, msg: RequestMessage, required: boolean): boolean {
  const given = msg.admin_token;
  const configured = env.settings.adminToken;
  if (given === undefined || given === null || given === '') {
    if (!required) return false;
    throw new RegistryRequestError(
      'ERR_REGISTRY_ADMIN_TOKEN',
      configured ? 'admin token required' : 'network administration is disabled: no admin token configured',
    );
  }
  if (typeof given !== 'string') {
    throw new RegistryRequestError('ERR_REGISTRY_INVALID_FIELD', 'field "admin_token" must be a string');
  }
  if (!configured) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_ADMIN_TOKEN',
      'network administration is disabled: no admin token configured',
    );
  }
  if (!timingSafeEqual(digest(given), digest(configured))) {
    throw new RegistryRequestError('ERR_REGISTRY_ADMIN_TOKEN', 'invalid admin token');
  }
  return true;
}

/** Constant-time equality of two secrets. */
export function secretEquals(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * May `requester` learn `target`'s endpoint? Public targets: yes. Private targets: only with a trust pair or a
 * shared non-backbone network (a node may always see itself).
 */
export function canSee(env: HandlerEnv, requester: NodeRecord, target: NodeRecord): boolean {
  return (
    target.isPublic ||
    requester.id === target.id ||
    env.state.hasTrust(requester.id, target.id) ||
    requester.sharesNetworkWith(target)
  );
}

/** ERR_REGISTRY_RESOLVE_DENIED for a private node. */
export function denied(target: NodeRecord): RegistryRequestError {
  return new RegistryRequestError(
    'ERR_REGISTRY_RESOLVE_DENIED',
    `resolve denied: node ${target.id} is private (establish mutual trust first)`,
  );
}
