/**
 * Ed25519 verification of registry challenge strings, done at most once per distinct
 * (public key, challenge, signature) triple.
 *
 * Ed25519 signatures are deterministic, so a node's heartbeat (`heartbeat:<id>`) carries the same signature every
 * time. A verified triple is remembered in a bounded LRU keyed by the signature text; a later request with the
 * same signature is accepted only when the remembered public key and challenge are identical, which makes the
 * cache exactly equivalent to verifying again. Parsed public-key objects are cached too (created through JWK,
 * about 10x cheaper than DER in node:crypto), in a smaller LRU because each one holds native memory.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { RegistryRequestError } from './errors.js';
import { decodeBase64Exact } from './validation.js';

export interface SignatureVerifierOptions {
  /** Verified triples remembered (0 disables the cache). */
  verifyCacheSize: number;
  /** Parsed key objects kept. */
  keyCacheSize: number;
}

export interface VerifierStats {
  verifications: number;
  cacheHits: number;
  failures: number;
}

function base64ToBase64Url(b64: string): string {
  return b64.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

export class SignatureVerifier {
  readonly #verified: LRUCache<string, string> | null;
  readonly #keys: LRUCache<string, KeyObject>;
  readonly #stats: VerifierStats = { verifications: 0, cacheHits: 0, failures: 0 };

  constructor(options: SignatureVerifierOptions) {
    this.#verified = options.verifyCacheSize > 0 ? new LRUCache({ max: options.verifyCacheSize }) : null;
    this.#keys = new LRUCache({ max: Math.max(1, options.keyCacheSize) });
  }

  get stats(): Readonly<VerifierStats> {
    return this.#stats;
  }

  /**
   * Check `signature` (base64 text from the request) over `challenge` with the node's canonical base64
   * `publicKey`. Throws ERR_REGISTRY_SIGNATURE when missing or wrong.
   */
  check(publicKey: string, challenge: string, signature: unknown): void {
    if (signature === undefined || signature === null || signature === '') {
      throw new RegistryRequestError('ERR_REGISTRY_SIGNATURE', 'signature required for authenticated node');
    }
    if (typeof signature !== 'string') {
      throw new RegistryRequestError('ERR_REGISTRY_SIGNATURE', 'field "signature" must be a base64 string');
    }
    const expect = publicKey + '\n' + challenge;
    if (this.#verified !== null && this.#verified.get(signature) === expect) {
      this.#stats.cacheHits++;
      return;
    }
    if (!this.verifyUncached(publicKey, challenge, signature)) {
      this.#stats.failures++;
      throw new RegistryRequestError('ERR_REGISTRY_SIGNATURE', 'signature verification failed');
    }
    this.#verified?.set(signature, expect);
  }

  /** One real verification (no result cache). */
  verifyUncached(publicKey: string, challenge: string, signature: string): boolean {
    const sig = decodeBase64Exact(signature, 64);
    if (!sig) return false;
    this.#stats.verifications++;
    try {
      return cryptoVerify(null, Buffer.from(challenge, 'utf8'), this.keyObject(publicKey), sig);
    } catch {
      return false;
    }
  }

  /** The cached node:crypto key object for a canonical base64 public key. */
  keyObject(publicKey: string): KeyObject {
    let key = this.#keys.get(publicKey);
    if (key === undefined) {
      key = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: base64ToBase64Url(publicKey) },
        format: 'jwk',
      });
      this.#keys.set(publicKey, key);
    }
    return key;
  }

  /** Forget everything about a key (after rotation). Cached triples of the old key can no longer match anyway. */
  forgetKey(publicKey: string): void {
    this.#keys.delete(publicKey);
  }
}
