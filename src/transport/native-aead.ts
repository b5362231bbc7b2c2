/**
 * The optional native AES-256-GCM addon (`native/pilot-aead.c`, built by `npm install` when a compiler and
 * Node's headers are present). It keeps one OpenSSL context per session, where node:crypto makes a cipher
 * object (name lookup, key expansion, several allocations) for every packet; the wire format is the same.
 *
 * Loaded once; `null` when it is not built, fails its known-answer check, or `PILOT_NATIVE=0` is set, and
 * then sessions use node:crypto. `aeadBackend()` says which one is in use.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

/** An opaque per-key context (an external holding the OpenSSL contexts; freed by GC). */
export type NativeAeadContext = object;

export interface NativeAead {
  create(key: Buffer): NativeAeadContext;
  /** Encrypt buf[off, off+len) in place and write the 16-byte tag after it; nonce at buf[ivOff]. */
  seal(ctx: NativeAeadContext, buf: Buffer, ivOff: number, aad: Buffer, off: number, len: number): void;
  /** Authenticate and decrypt in place; on false the buffer holds the ciphertext again. */
  open(ctx: NativeAeadContext, buf: Buffer, ivOff: number, aad: Buffer, off: number, len: number): boolean;
}

const CANDIDATES = [
  '../../native/build/Release/pilot_aead.node', // from src/transport (tests, tsx)
  '../../../native/build/Release/pilot_aead.node', // from dist/src/transport
];

/** True when the addon's seal matches node:crypto's and its open round-trips and rejects a forgery. */
function knownAnswer(m: NativeAead): boolean {
  const key = Buffer.alloc(32, 7);
  const aad = Buffer.from([0, 0, 0, 9]);
  const buf = Buffer.alloc(12 + 37 + 16);
  for (let i = 0; i < 12; i++) buf[i] = i + 1;
  for (let i = 0; i < 37; i++) buf[12 + i] = i * 3;
  const pt = Buffer.from(buf.subarray(12, 49));
  const c = createCipheriv('aes-256-gcm', key, buf.subarray(0, 12));
  c.setAAD(aad);
  const expected = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  const ctx = m.create(key);
  m.seal(ctx, buf, 0, aad, 12, 37);
  if (!buf.subarray(12).equals(expected)) return false;
  const forged = Buffer.from(buf);
  forged[20] ^= 1;
  if (m.open(ctx, forged, 0, aad, 12, 37)) return false;
  forged[20] ^= 1;
  if (!forged.equals(buf)) return false;
  return m.open(ctx, buf, 0, aad, 12, 37) && buf.subarray(12, 49).equals(pt);
}

function load(): NativeAead | null {
  if (process.env.PILOT_NATIVE === '0') return null;
  for (const path of CANDIDATES) {
    const file = fileURLToPath(new URL(path, import.meta.url));
    let m: NativeAead;
    try {
      // build.mjs writes the digest only after the addon loaded and passed its check in a child process: a
      // truncated or replaced file (which dlopen can turn into SIGBUS) is never mapped.
      const want = readFileSync(`${file}.sha256`, 'utf8').trim();
      if (createHash('sha256').update(readFileSync(file)).digest('hex') !== want) return null;
      // RTLD_NOW: a symbol this node does not export fails here, not as a process exit at the first call.
      const mod = { exports: {} };
      process.dlopen(mod, file, constants.dlopen.RTLD_NOW);
      m = mod.exports as NativeAead;
    } catch {
      continue;
    }
    try {
      if (knownAnswer(m)) return m;
    } catch {
      // A broken build is not used.
    }
    return null;
  }
  return null;
}

export const nativeAead: NativeAead | null = load();

/** Which AES-GCM implementation sessions use: `native` (the addon) or `node:crypto`. */
export function aeadBackend(): 'native' | 'node:crypto' {
  return nativeAead === null ? 'node:crypto' : 'native';
}
