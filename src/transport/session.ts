/**
 * A keyed tunnel session with one peer: AES-256-GCM with a 12-byte nonce (4-byte random prefix chosen per
 * session ‖ 8-byte big-endian counter starting at 1), and per-sender-epoch replay windows.
 *
 * Two key-derivation suites share every other byte:
 * - `v2` (default): key = HKDF-SHA256(shared, salt = empty, info = "pilot-tunnel-v1"), AAD = sender node ID (4 bytes BE).
 * - `v1` (compatibility with the original daemon): key = SHA-256("pilot-tunnel-v1:" ‖ shared), no AAD.
 * Both suites authenticate before the replay check.
 *
 * AES-GCM runs in the native addon when it is built (`native-aead.ts`: one OpenSSL context per session,
 * frames sealed and opened in place), else through node:crypto; both give the same bytes.
 */
// A raw Buffer key is measurably cheaper per packet than a KeyObject with createCipheriv on Node 20.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  hkdfSync,
  randomBytes,
  type CipherGCM,
  type DecipherGCM,
} from 'node:crypto';
import { NONCE_SIZE, PILS_HEADER_SIZE, PILS_MIN_SIZE, TAG_SIZE, MAGIC_PILS } from './frames.js';
import { nativeAead, type NativeAead, type NativeAeadContext } from './native-aead.js';
import { ReplayVerdict, ReplayWindow, DEFAULT_REPLAY_WINDOW } from './replay-window.js';

export type TunnelCryptoSuite = 'v1' | 'v2';

const HKDF_INFO = Buffer.from('pilot-tunnel-v1', 'latin1');
const V1_PREFIX = Buffer.from('pilot-tunnel-v1:', 'latin1');
const EMPTY = Buffer.alloc(0);
const TWO32 = 0x100000000;
/** Sender epochs (nonce prefixes) tracked per session. */
const MAX_EPOCHS = 4;
/** Retired prefixes remembered so an evicted epoch cannot be replayed back in. */
const MAX_RETIRED = 64;

/** Derive the 32-byte AES key from an X25519 shared secret. */
export function deriveTunnelKey(suite: TunnelCryptoSuite, shared: Uint8Array): Buffer {
  if (suite === 'v1') return createHash('sha256').update(V1_PREFIX).update(shared).digest();
  return Buffer.from(hkdfSync('sha256', shared, EMPTY, HKDF_INFO, 32));
}

/**
 * What a session remembers of the frames it accepted: a replay window per sender epoch (nonce prefix) and the
 * prefixes of evicted epochs. A later session with the same key (the same peer X25519 key while our tunnel
 * lives) takes it over (`adoptReplayState`), so frames accepted before cannot be replayed into it.
 */
export interface ReplayState {
  readonly windows: Map<number, ReplayWindow>;
  readonly retired: Set<number>;
}

export enum OpenResult {
  Ok = 0,
  BadTag = 1,
  Replay = 2,
  TooOld = 3,
}

export class Session {
  readonly suite: TunnelCryptoSuite;
  readonly key: Buffer;
  readonly remoteX25519: Buffer;
  readonly authenticated: boolean;
  readonly createdAt: number;
  #prefix: Buffer;
  #counter = 0;
  /** AAD for frames we send (our node ID) and for frames we receive (the peer's node ID). */
  #localAad: Buffer;
  #remoteAad: Buffer;
  #replay: ReplayState = { windows: new Map<number, ReplayWindow>(), retired: new Set<number>() };
  #windowSize: number;
  /** Set by open() for the caller: the decrypted plaintext. */
  plaintext: Buffer = EMPTY;
  /**
   * Cipher contexts made ahead of time, off the latency path (`prepareSeal` / `prepareOpen`): creating one
   * costs more than sealing a small packet when the CPU caches are cold (a request/response exchange).
   */
  #nextCipher: CipherGCM | null = null;
  /** The header (nonce = counter + 1) that goes with `#nextCipher`. */
  #nextHeader: Buffer = EMPTY;
  #nextDecipher: DecipherGCM | null = null;
  #nextDecPrefix = 0;
  #nextDecCounter = 0;
  readonly #ivScratch = Buffer.alloc(NONCE_SIZE);
  readonly #native: NativeAead | null;
  readonly #ctx: NativeAeadContext | null;
  /** The AADs as the native calls take them (empty for v1). */
  readonly #sealAad: Buffer;
  readonly #openAad: Buffer;

  constructor(opts: {
    suite: TunnelCryptoSuite;
    shared: Uint8Array;
    localNodeId: number;
    remoteNodeId: number;
    remoteX25519: Buffer;
    authenticated: boolean;
    replayWindow?: number;
    now?: number;
    /** The AES-GCM implementation: the native addon (default when built) or null for node:crypto. */
    aead?: NativeAead | null;
  }) {
    this.suite = opts.suite;
    this.key = deriveTunnelKey(opts.suite, opts.shared);
    this.remoteX25519 = opts.remoteX25519;
    this.authenticated = opts.authenticated;
    this.createdAt = opts.now ?? Date.now();
    this.#prefix = randomBytes(4);
    this.#localAad = Buffer.allocUnsafe(4);
    this.#localAad.writeUInt32BE(opts.localNodeId >>> 0, 0);
    this.#remoteAad = Buffer.allocUnsafe(4);
    this.#remoteAad.writeUInt32BE(opts.remoteNodeId >>> 0, 0);
    this.#windowSize = opts.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    this.#native = opts.aead === undefined ? nativeAead : opts.aead;
    this.#ctx = this.#native === null ? null : this.#native.create(this.key);
    this.#sealAad = this.suite === 'v2' ? this.#localAad : EMPTY;
    this.#openAad = this.suite === 'v2' ? this.#remoteAad : EMPTY;
  }

  /** Which AES-GCM implementation this session uses. */
  get backend(): 'native' | 'node:crypto' {
    return this.#native === null ? 'node:crypto' : 'native';
  }

  /** The replay state (see {@link ReplayState}). */
  get replayState(): ReplayState {
    return this.#replay;
  }

  /**
   * Continue from the replay state of an earlier session with the same key (same peer X25519 key and suite),
   * instead of empty windows that would accept every frame sealed under that key once more.
   */
  adoptReplayState(state: ReplayState): void {
    this.#replay = state;
  }

  /** Frames sealed so far. */
  get sent(): number {
    return this.#counter;
  }

  /**
   * Seal the `len` plaintext bytes at `buf[PILS_HEADER_SIZE]` into a whole PILS frame in place: the header
   * is written before them, the tag after (`buf` needs `PILS_HEADER_SIZE + len + TAG_SIZE` bytes). Returns
   * the frame's length. The tunnel encodes each packet straight into its frame this way.
   */
  sealInto(buf: Buffer, len: number, senderNodeId: number): number {
    const c = ++this.#counter;
    const end = PILS_HEADER_SIZE + len;
    if (this.#native !== null) {
      this.#writeHeader(buf, senderNodeId, c);
      this.#native.seal(this.#ctx!, buf, 8, this.#sealAad, PILS_HEADER_SIZE, len);
      return end + TAG_SIZE;
    }
    // A prepared cipher is always for the next counter: only sealing advances it, and sealing consumes it.
    let header = this.#nextHeader;
    let cipher = this.#nextCipher;
    if (cipher === null) {
      header = this.#header(senderNodeId, c);
      cipher = this.#cipher(header);
    }
    this.#nextCipher = null;
    header.copy(buf, 0);
    cipher.update(buf.subarray(PILS_HEADER_SIZE, end)).copy(buf, PILS_HEADER_SIZE);
    cipher.final();
    cipher.getAuthTag().copy(buf, end);
    return end + TAG_SIZE;
  }

  /** Seal `plaintext` into a new PILS frame (header ‖ ciphertext ‖ tag). */
  seal(plaintext: Uint8Array, senderNodeId: number): Buffer {
    const buf = Buffer.allocUnsafe(PILS_HEADER_SIZE + plaintext.length + TAG_SIZE);
    buf.set(plaintext, PILS_HEADER_SIZE);
    this.sealInto(buf, plaintext.length, senderNodeId);
    return buf;
  }

  /** Make the cipher for the next `seal` now (call after a send, when the caller would otherwise wait). */
  prepareSeal(senderNodeId: number): void {
    if (this.#nextCipher !== null || this.#native !== null) return;
    this.#nextHeader = this.#header(senderNodeId, this.#counter + 1);
    this.#nextCipher = this.#cipher(this.#nextHeader);
  }

  #header(senderNodeId: number, c: number): Buffer {
    const header = Buffer.allocUnsafe(PILS_HEADER_SIZE);
    this.#writeHeader(header, senderNodeId, c);
    return header;
  }

  #writeHeader(buf: Buffer, senderNodeId: number, c: number): void {
    buf.writeUInt32BE(MAGIC_PILS, 0);
    buf.writeUInt32BE(senderNodeId >>> 0, 4);
    this.#prefix.copy(buf, 8);
    buf.writeUInt32BE(Math.floor(c / TWO32), 12);
    buf.writeUInt32BE(c >>> 0, 16);
  }

  #cipher(header: Buffer): CipherGCM {
    const cipher = createCipheriv('aes-256-gcm', this.key, header.subarray(8, 8 + NONCE_SIZE));
    if (this.suite === 'v2') cipher.setAAD(this.#localAad);
    return cipher;
  }

  /**
   * Authenticate and decrypt a PILS frame (whole datagram), then check replay. On Ok the plaintext is in
   * `this.plaintext` (valid until the next call). With the native addon the frame is decrypted in place
   * (the plaintext is a view into it); a frame that fails to authenticate is left as it was.
   */
  open(frame: Buffer): OpenResult {
    if (frame.length < PILS_MIN_SIZE) return OpenResult.BadTag;
    const tagAt = frame.length - TAG_SIZE;
    const prefix = frame.readUInt32BE(8);
    const counter = frame.readUInt32BE(12) * TWO32 + frame.readUInt32BE(16);
    let pt: Buffer;
    if (this.#native !== null) {
      const len = tagAt - PILS_HEADER_SIZE;
      if (!this.#native.open(this.#ctx!, frame, 8, this.#openAad, PILS_HEADER_SIZE, len)) {
        return OpenResult.BadTag;
      }
      pt = frame.subarray(PILS_HEADER_SIZE, tagAt);
    } else {
      let decipher = this.#nextDecipher;
      if (decipher === null || prefix !== this.#nextDecPrefix || counter !== this.#nextDecCounter) {
        decipher = this.#decipher(frame.subarray(8, 8 + NONCE_SIZE));
      }
      this.#nextDecipher = null;
      decipher.setAuthTag(frame.subarray(tagAt));
      try {
        pt = decipher.update(frame.subarray(PILS_HEADER_SIZE, tagAt));
        decipher.final();
      } catch {
        return OpenResult.BadTag;
      }
    }
    let w = this.#replay.windows.get(prefix);
    if (w === undefined) {
      if (this.#replay.retired.has(prefix)) return OpenResult.TooOld;
      w = this.#newEpoch(prefix);
    }
    const v = w.accept(counter);
    if (v !== ReplayVerdict.Ok) return v === ReplayVerdict.Replay ? OpenResult.Replay : OpenResult.TooOld;
    this.plaintext = pt;
    this.#nextDecPrefix = prefix;
    this.#nextDecCounter = counter + 1;
    return OpenResult.Ok;
  }

  /**
   * Make the decipher for the frame most likely next (same sender epoch, next counter) now, after the
   * current one was handled. A miss costs one unused context.
   */
  prepareOpen(): void {
    if (this.#nextDecipher !== null || this.#nextDecCounter === 0 || this.#native !== null) return;
    // The decipher copies its IV, so one scratch buffer serves every call.
    const iv = this.#ivScratch;
    iv.writeUInt32BE(this.#nextDecPrefix, 0);
    iv.writeUInt32BE(Math.floor(this.#nextDecCounter / TWO32), 4);
    iv.writeUInt32BE(this.#nextDecCounter >>> 0, 8);
    this.#nextDecipher = this.#decipher(iv);
  }

  #decipher(iv: Buffer): DecipherGCM {
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    if (this.suite === 'v2') decipher.setAAD(this.#remoteAad);
    return decipher;
  }

  #newEpoch(prefix: number): ReplayWindow {
    const { windows, retired } = this.#replay;
    if (windows.size >= MAX_EPOCHS) {
      const oldest = windows.keys().next().value as number;
      windows.delete(oldest);
      if (retired.size >= MAX_RETIRED) retired.clear();
      retired.add(oldest);
    }
    const w = new ReplayWindow(this.#windowSize);
    windows.set(prefix, w);
    return w;
  }
}
