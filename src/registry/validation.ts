/**
 * Request field readers and the registry's naming rules. Every reader throws a
 * {@link RegistryRequestError} naming the field, so a handler validates everything before it changes state.
 */
import { isIP } from 'node:net';
import { RegistryRequestError } from './errors.js';
import { MAX_TAGS } from './constants.js';

/** A decoded request: a JSON object with a string `type`. */
export type RequestMessage = Readonly<Record<string, unknown>>;

function invalid(field: string, what: string): RegistryRequestError {
  return new RegistryRequestError('ERR_REGISTRY_INVALID_FIELD', `field "${field}" ${what}`);
}

function uintField(msg: RequestMessage, field: string, max: number, required: boolean): number | undefined {
  const v = msg[field];
  if (v === undefined || v === null) {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw invalid(field, `must be an integer in 0..${max}`);
  }
  return v;
}

/** A required unsigned 32-bit integer (node IDs). */
export function reqUint32(msg: RequestMessage, field: string): number {
  return uintField(msg, field, 0xffffffff, true) as number;
}

/** An optional unsigned 32-bit integer. */
export function optUint32(msg: RequestMessage, field: string): number | undefined {
  return uintField(msg, field, 0xffffffff, false);
}

/** A required unsigned 16-bit integer (network IDs). */
export function reqUint16(msg: RequestMessage, field: string): number {
  return uintField(msg, field, 0xffff, true) as number;
}

/** A required safe integer (scores, deltas). */
export function reqSafeInt(msg: RequestMessage, field: string): number {
  const v = msg[field];
  if (v === undefined || v === null) throw invalid(field, 'is required');
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(field, 'must be an integer');
  return v;
}

/** A required string of at most `maxLength` UTF-16 units. */
export function reqString(msg: RequestMessage, field: string, maxLength: number): string {
  const v = optString(msg, field, maxLength);
  if (v === undefined) throw invalid(field, 'is required');
  return v;
}

/** An optional string (absent or null → undefined). */
export function optString(msg: RequestMessage, field: string, maxLength: number): string | undefined {
  const v = msg[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  if (v.length > maxLength) throw invalid(field, `is longer than ${maxLength} characters`);
  return v;
}

/** A required boolean. */
export function reqBool(msg: RequestMessage, field: string): boolean {
  const v = msg[field];
  if (typeof v !== 'boolean') throw invalid(field, v === undefined ? 'is required' : 'must be a boolean');
  return v;
}

/** A required array of strings (at most `maxItems`, each at most `maxLength`). */
export function reqStringArray(
  msg: RequestMessage,
  field: string,
  maxItems: number,
  maxLength: number,
): string[] {
  const v = msg[field];
  if (v === null) return [];
  if (!Array.isArray(v))
    throw invalid(field, v === undefined ? 'is required' : 'must be an array of strings');
  if (v.length > maxItems) throw invalid(field, `has more than ${maxItems} items`);
  for (const item of v) {
    if (typeof item !== 'string') throw invalid(field, 'must be an array of strings');
    if (item.length > maxLength) throw invalid(field, `has an item longer than ${maxLength} characters`);
  }
  return v as string[];
}

const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const RESERVED_HOSTNAMES = new Set(['localhost', 'backbone', 'broadcast']);

/** Null when valid, else the reason (reference rules: regex, ≤ 63, reserved names). */
export function hostnameProblem(name: string): string | null {
  if (name.length > 63) return `hostname "${name.slice(0, 70)}" is longer than 63 characters`;
  if (!HOSTNAME_RE.test(name)) {
    return `hostname "${name}" is invalid: use lowercase letters, digits and inner hyphens (regex ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$)`;
  }
  if (RESERVED_HOSTNAMES.has(name)) return `hostname "${name}" is reserved`;
  return null;
}

const TAG_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/** Leading `#` stripped, each 1-32 chars matching the tag regex, ≤ 10, duplicates dropped (order kept). */
export function normalizeTags(tags: readonly string[]): string[] {
  if (tags.length > MAX_TAGS) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_TAGS_INVALID',
      `too many tags: ${tags.length} (max ${MAX_TAGS})`,
    );
  }
  const out: string[] = [];
  for (const raw of tags) {
    const tag = raw.startsWith('#') ? raw.slice(1) : raw;
    if (tag.length < 1 || tag.length > 32) {
      throw new RegistryRequestError('ERR_REGISTRY_TAGS_INVALID', `tag "${raw}" must be 1-32 characters`);
    }
    if (!TAG_RE.test(tag)) {
      throw new RegistryRequestError(
        'ERR_REGISTRY_TAGS_INVALID',
        `tag "${raw}" is invalid: use lowercase letters, digits and inner hyphens`,
      );
    }
    if (!out.includes(tag)) out.push(tag);
  }
  return out;
}

const NETWORK_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Null when valid, else the reason. */
export function networkNameProblem(name: string): string | null {
  if (!NETWORK_NAME_RE.test(name)) {
    return `network name "${name.slice(0, 70)}" is invalid: 1-63 lowercase letters, digits and inner hyphens`;
  }
  if (name === 'backbone') return 'network name "backbone" is reserved';
  return null;
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decode a standard-base64 value of an exact byte length, or null. */
export function decodeBase64Exact(text: string, bytes: number): Buffer | null {
  if (!BASE64_RE.test(text)) return null;
  const buf = Buffer.from(text, 'base64');
  return buf.length === bytes ? buf : null;
}

/** A 32-byte Ed25519 public key in canonical base64, or an ERR_REGISTRY_KEY_INVALID. */
export function canonicalPublicKey(text: string, field: string): string {
  const raw = decodeBase64Exact(text, 32);
  if (!raw) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_KEY_INVALID',
      `field "${field}" must be a base64 Ed25519 public key (32 bytes)`,
    );
  }
  return raw.toString('base64');
}

/** `host:port` / `[v6]:port` / `:port` → parts; null when malformed. */
export function splitHostPort(text: string): { host: string; port: number } | null {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return null;
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 0xffff) return null;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) return null;
  return { host, port };
}

/** Strip the IPv4-mapped prefix Node reports for dual-stack sockets. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** `ip:port`, with brackets for IPv6. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
