/**
 * Tunnel frames: every UDP datagram starts with a 4-byte ASCII magic beginning with `P`, or with a beacon
 * message byte below 0x10.
 *
 * | magic | layout after the magic | total |
 * | PILT  | 34-byte packet header + payload (plaintext) | 38 + payload |
 * | PILS  | sender node ID (4) + nonce (12) + ciphertext ‖ GCM tag (16) | ≥ 36 |
 * | PILK  | sender node ID (4) + X25519 public key (32) | 40 |
 * | PILA  | node ID (4) + X25519 pub (32) + Ed25519 pub (32) + Ed25519 signature (64) | 136 |
 * | PILP  | nothing (reference V1) or sender node ID (4) | 4 or 8 |
 */
import { FrameError } from './errors.js';

export const MAGIC_SIZE = 4;
/** 'PILT' as a big-endian u32. */
export const MAGIC_PILT = 0x50494c54;
export const MAGIC_PILS = 0x50494c53;
export const MAGIC_PILK = 0x50494c4b;
export const MAGIC_PILA = 0x50494c41;
export const MAGIC_PILP = 0x50494c50;

export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
export const X25519_KEY_SIZE = 32;
export const ED25519_KEY_SIZE = 32;
export const ED25519_SIG_SIZE = 64;

/** magic + node ID + nonce */
export const PILS_HEADER_SIZE = MAGIC_SIZE + 4 + NONCE_SIZE;
export const PILS_MIN_SIZE = PILS_HEADER_SIZE + TAG_SIZE;
export const PILK_SIZE = MAGIC_SIZE + 4 + X25519_KEY_SIZE;
export const PILA_SIZE = MAGIC_SIZE + 4 + X25519_KEY_SIZE + ED25519_KEY_SIZE + ED25519_SIG_SIZE;
export const PILP_SIZE = MAGIC_SIZE + 4;

export type FrameKind = 'PILT' | 'PILS' | 'PILK' | 'PILA' | 'PILP' | 'beacon' | 'unknown';

/** Classify a datagram by its first bytes without decoding it. */
export function frameKind(buf: Uint8Array): FrameKind {
  if (buf.length >= 1 && buf[0] < 0x10) return 'beacon';
  if (buf.length < MAGIC_SIZE) return 'unknown';
  if (buf[0] !== 0x50 || buf[1] !== 0x49 || buf[2] !== 0x4c) return 'unknown';
  switch (buf[3]) {
    case 0x54:
      return 'PILT';
    case 0x53:
      return 'PILS';
    case 0x4b:
      return 'PILK';
    case 0x41:
      return 'PILA';
    case 0x50:
      return 'PILP';
    default:
      return 'unknown';
  }
}

function need(buf: Uint8Array, size: number, what: string, exact: boolean): void {
  if (buf.length < size)
    throw new FrameError('ERR_FRAME_TOO_SHORT', `${what} frame needs ${size} bytes, got ${buf.length}`);
  if (exact && buf.length !== size) {
    throw new FrameError(
      'ERR_FRAME_LENGTH',
      `${what} frame must be exactly ${size} bytes, got ${buf.length}`,
    );
  }
}

function expectMagic(buf: Uint8Array, kind: FrameKind): void {
  const k = frameKind(buf);
  if (k !== kind) throw new FrameError('ERR_FRAME_UNKNOWN_MAGIC', `expected a ${kind} frame, got ${k}`);
}

function u32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** PILT: magic + an encoded packet. */
export function encodePiltFrame(encodedPacket: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(MAGIC_SIZE + encodedPacket.length);
  out.writeUInt32BE(MAGIC_PILT, 0);
  out.set(encodedPacket, MAGIC_SIZE);
  return out;
}

/** PILT: the encoded packet inside (a view). */
export function decodePiltFrame(buf: Buffer): Buffer {
  expectMagic(buf, 'PILT');
  return buf.subarray(MAGIC_SIZE);
}

export interface PilsFrame {
  nodeId: number;
  /** 12-byte nonce (view). */
  nonce: Buffer;
  /** Ciphertext without tag (view). */
  ciphertext: Buffer;
  /** 16-byte GCM tag (view). */
  tag: Buffer;
}

/** PILS: magic + node ID + nonce + ciphertext + tag. */
export function encodePilsFrame(
  nodeId: number,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
): Buffer {
  if (nonce.length !== NONCE_SIZE)
    throw new FrameError('ERR_FRAME_LENGTH', `nonce must be ${NONCE_SIZE} bytes`);
  if (tag.length !== TAG_SIZE) throw new FrameError('ERR_FRAME_LENGTH', `tag must be ${TAG_SIZE} bytes`);
  const out = Buffer.allocUnsafe(PILS_HEADER_SIZE + ciphertext.length + TAG_SIZE);
  out.writeUInt32BE(MAGIC_PILS, 0);
  out.writeUInt32BE(nodeId >>> 0, 4);
  out.set(nonce, 8);
  out.set(ciphertext, PILS_HEADER_SIZE);
  out.set(tag, PILS_HEADER_SIZE + ciphertext.length);
  return out;
}

export function decodePilsFrame(buf: Buffer): PilsFrame {
  expectMagic(buf, 'PILS');
  need(buf, PILS_MIN_SIZE, 'PILS', false);
  const tagAt = buf.length - TAG_SIZE;
  return {
    nodeId: u32(buf, 4),
    nonce: buf.subarray(8, PILS_HEADER_SIZE),
    ciphertext: buf.subarray(PILS_HEADER_SIZE, tagAt),
    tag: buf.subarray(tagAt),
  };
}

export interface PilkFrame {
  nodeId: number;
  x25519PublicKey: Buffer;
}

export function encodePilkFrame(nodeId: number, x25519PublicKey: Uint8Array): Buffer {
  if (x25519PublicKey.length !== X25519_KEY_SIZE)
    throw new FrameError('ERR_FRAME_LENGTH', 'X25519 key must be 32 bytes');
  const out = Buffer.allocUnsafe(PILK_SIZE);
  out.writeUInt32BE(MAGIC_PILK, 0);
  out.writeUInt32BE(nodeId >>> 0, 4);
  out.set(x25519PublicKey, 8);
  return out;
}

export function decodePilkFrame(buf: Buffer): PilkFrame {
  expectMagic(buf, 'PILK');
  need(buf, PILK_SIZE, 'PILK', true);
  return { nodeId: u32(buf, 4), x25519PublicKey: Buffer.from(buf.subarray(8, 40)) };
}

export interface PilaFrame {
  nodeId: number;
  x25519PublicKey: Buffer;
  ed25519PublicKey: Buffer;
  signature: Buffer;
}

/** The 40 bytes a PILA signature covers: ASCII `auth` ‖ node ID (BE) ‖ X25519 public key. */
export function pilaSignatureInput(nodeId: number, x25519PublicKey: Uint8Array): Buffer {
  if (x25519PublicKey.length !== X25519_KEY_SIZE)
    throw new FrameError('ERR_FRAME_LENGTH', 'X25519 key must be 32 bytes');
  const out = Buffer.allocUnsafe(4 + 4 + X25519_KEY_SIZE);
  out.write('auth', 0, 'latin1');
  out.writeUInt32BE(nodeId >>> 0, 4);
  out.set(x25519PublicKey, 8);
  return out;
}

export function encodePilaFrame(
  nodeId: number,
  x25519PublicKey: Uint8Array,
  ed25519PublicKey: Uint8Array,
  signature: Uint8Array,
): Buffer {
  if (x25519PublicKey.length !== X25519_KEY_SIZE)
    throw new FrameError('ERR_FRAME_LENGTH', 'X25519 key must be 32 bytes');
  if (ed25519PublicKey.length !== ED25519_KEY_SIZE)
    throw new FrameError('ERR_FRAME_LENGTH', 'Ed25519 key must be 32 bytes');
  if (signature.length !== ED25519_SIG_SIZE)
    throw new FrameError('ERR_FRAME_LENGTH', 'Ed25519 signature must be 64 bytes');
  const out = Buffer.allocUnsafe(PILA_SIZE);
  out.writeUInt32BE(MAGIC_PILA, 0);
  out.writeUInt32BE(nodeId >>> 0, 4);
  out.set(x25519PublicKey, 8);
  out.set(ed25519PublicKey, 40);
  out.set(signature, 72);
  return out;
}

export function decodePilaFrame(buf: Buffer): PilaFrame {
  expectMagic(buf, 'PILA');
  need(buf, PILA_SIZE, 'PILA', true);
  return {
    nodeId: u32(buf, 4),
    x25519PublicKey: Buffer.from(buf.subarray(8, 40)),
    ed25519PublicKey: Buffer.from(buf.subarray(40, 72)),
    signature: Buffer.from(buf.subarray(72, 136)),
  };
}

/** PILP punch: the magic followed by our node ID ([NEW] form; V1 sends the magic alone). */
export function encodePilpFrame(nodeId?: number): Buffer {
  if (nodeId === undefined) {
    const out = Buffer.allocUnsafe(MAGIC_SIZE);
    out.writeUInt32BE(MAGIC_PILP, 0);
    return out;
  }
  const out = Buffer.allocUnsafe(PILP_SIZE);
  out.writeUInt32BE(MAGIC_PILP, 0);
  out.writeUInt32BE(nodeId >>> 0, 4);
  return out;
}

/** PILP: the sender's node ID when present, else null. */
export function decodePilpFrame(buf: Buffer): { nodeId: number | null } {
  expectMagic(buf, 'PILP');
  return { nodeId: buf.length >= PILP_SIZE ? u32(buf, 4) : null };
}
