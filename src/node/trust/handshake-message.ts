/**
 * The trust handshake message (reference §9): one JSON object per stream connection to port 444,
 * `{type, node_id, public_key, justification, signature, reason, timestamp}`, signed with the sender's
 * identity key over `handshake:<sender_node_id>:<receiver_node_id>`.
 *
 * Decoding never throws: it returns the message or the reason it was refused, so that the receiver can drop
 * and count bad input.
 */
import { createHash } from 'node:crypto';
import type { Identity } from '../../coreapi/identity.js';
import { ed25519Verify } from '../../transport/keys.js';
import { MAX_CLOCK_SKEW_S, MAX_MESSAGE_AGE_S, MAX_MESSAGE_BYTES } from './constants.js';

export enum HandshakeType {
  Request = 'handshake_request',
  Accept = 'handshake_accept',
  Reject = 'handshake_reject',
  Revoke = 'handshake_revoke',
}

const TYPES: ReadonlySet<string> = new Set<string>(Object.values(HandshakeType));

/** The wire object, field names as on the wire. Absent strings are empty. */
export interface HandshakeMessage {
  readonly type: HandshakeType;
  readonly node_id: number;
  /** Base64 of the sender's raw 32-byte Ed25519 key. */
  readonly public_key: string;
  readonly justification: string;
  /** Base64 of the 64-byte signature over {@link handshakeChallenge}. */
  readonly signature: string;
  readonly reason: string;
  /** Unix seconds. */
  readonly timestamp: number;
}

/** Why an inbound message was dropped (the keys of the drop counters). */
export type DropReason =
  | 'oversized'
  | 'malformed'
  | 'timeout'
  | 'sender_mismatch'
  | 'self'
  | 'stale'
  | 'future'
  | 'replay'
  | 'unknown_sender'
  | 'lookup_failed'
  | 'wrong_key'
  | 'bad_signature'
  | 'unsolicited'
  | 'overloaded'
  | 'pending_full';

export const DROP_REASONS: readonly DropReason[] = [
  'oversized',
  'malformed',
  'timeout',
  'sender_mismatch',
  'self',
  'stale',
  'future',
  'replay',
  'unknown_sender',
  'lookup_failed',
  'wrong_key',
  'bad_signature',
  'unsolicited',
  'overloaded',
  'pending_full',
];

export type DecodeResult =
  | { readonly ok: true; readonly message: HandshakeMessage }
  | { readonly ok: false; readonly reason: DropReason; readonly detail: string };

/** The signed challenge: `handshake:<sender>:<receiver>` (the same string as the registry's request_handshake). */
export function handshakeChallenge(sender: number, receiver: number): Buffer {
  return Buffer.from(`handshake:${sender}:${receiver}`, 'utf8');
}

/** Build and sign a message from `identity` to `receiver`. */
export function createHandshakeMessage(
  identity: Identity,
  type: HandshakeType,
  receiver: number,
  fields: { justification?: string; reason?: string; timestampS: number },
): HandshakeMessage {
  return {
    type,
    node_id: identity.nodeId,
    public_key: identity.publicKey.toString('base64'),
    justification: fields.justification ?? '',
    signature: identity.sign(handshakeChallenge(identity.nodeId, receiver)).toString('base64'),
    reason: fields.reason ?? '',
    timestamp: fields.timestampS,
  };
}

/** The canonical JSON encoding (fixed key order): what we send, and what the replay hash covers. */
export function encodeHandshakeMessage(m: HandshakeMessage): Buffer {
  return Buffer.from(
    JSON.stringify({
      type: m.type,
      node_id: m.node_id,
      public_key: m.public_key,
      justification: m.justification,
      signature: m.signature,
      reason: m.reason,
      timestamp: m.timestamp,
    }),
    'utf8',
  );
}

/** SHA-256 (hex) of the re-encoded message: the replay-set key. */
export function handshakeMessageHash(m: HandshakeMessage): string {
  return createHash('sha256').update(encodeHandshakeMessage(m)).digest('hex');
}

function drop(reason: DropReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

function optText(o: Record<string, unknown>, key: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : null;
}

/** Parse and shape-check one message (size, JSON, field types). Never throws. */
export function decodeHandshakeMessage(data: Buffer): DecodeResult {
  if (data.length > MAX_MESSAGE_BYTES) return drop('oversized', `${data.length} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(data.toString('utf8'));
  } catch {
    return drop('malformed', 'not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return drop('malformed', 'not a JSON object');
  }
  const o = doc as Record<string, unknown>;
  if (typeof o.type !== 'string' || !TYPES.has(o.type)) return drop('malformed', 'unknown type');
  const id = o.node_id;
  if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0 || id > 0xffffffff) {
    return drop('malformed', 'bad node_id');
  }
  const ts = o.timestamp;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) return drop('malformed', 'bad timestamp');
  const publicKey = optText(o, 'public_key');
  const justification = optText(o, 'justification');
  const signature = optText(o, 'signature');
  const reason = optText(o, 'reason');
  if (publicKey === null || justification === null || signature === null || reason === null) {
    return drop('malformed', 'a text field is not a string');
  }
  return {
    ok: true,
    message: {
      type: o.type as HandshakeType,
      node_id: id,
      public_key: publicKey,
      justification,
      signature,
      reason,
      timestamp: ts,
    },
  };
}

/** Check the timestamp window: not older than 5 min, not more than 30 s ahead. */
export function checkTimestamp(m: HandshakeMessage, nowS: number): DropReason | null {
  if (nowS - m.timestamp > MAX_MESSAGE_AGE_S) return 'stale';
  if (m.timestamp - nowS > MAX_CLOCK_SKEW_S) return 'future';
  return null;
}

/**
 * Check the key and signature against the sender's registered key: a `public_key` in the message must be that
 * key, and the signature must verify with it over `handshake:<node_id>:<receiver>`.
 */
export function checkSignature(
  m: HandshakeMessage,
  registeredKey: Buffer,
  receiver: number,
): 'wrong_key' | 'bad_signature' | null {
  if (m.public_key !== '' && !Buffer.from(m.public_key, 'base64').equals(registeredKey)) return 'wrong_key';
  if (m.signature === '') return 'bad_signature';
  const sig = Buffer.from(m.signature, 'base64');
  return ed25519Verify(registeredKey, handshakeChallenge(m.node_id, receiver), sig) ? null : 'bad_signature';
}
