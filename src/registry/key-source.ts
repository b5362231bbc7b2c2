/**
 * The expected-key source for the tunnel's `PILA` check: a node's registered Ed25519 key from the registry's
 * `lookup`, cached (LRU, size and age bounded), one round trip shared by concurrent calls. `null` means the
 * registry has no such node; registry failures reject so the caller can tell "unknown" from "cannot ask", and so
 * does an answer without a valid key or for another node (ERR_REGISTRY_PROTOCOL).
 * Call `invalidate(id)` when a peer's key no longer matches (it may have rotated).
 */
import { LRUCache } from 'lru-cache';
import type { RegistryClient } from './client.js';
import type { LookupAnswer } from './client-messages.js';
import { RESOLVER_CACHE_SIZE, RESOLVER_CACHE_TTL_MS } from './constants.js';
import { isNotFoundAnswer, lookupKey, withSignal } from './peer-resolver.js';

/** What the tunnel needs. */
export interface ExpectedKeySource {
  expectedKey(nodeId: number, options?: { signal?: AbortSignal }): Promise<Buffer | null>;
  invalidate(nodeId: number): void;
}

export interface RegistryKeySourceOptions {
  client: RegistryClient;
  cacheSize?: number;
  ttlMs?: number;
}

export class RegistryKeySource implements ExpectedKeySource {
  readonly #client: RegistryClient;
  readonly #keys: LRUCache<number, Buffer>;
  readonly #inflight = new Map<number, Promise<Buffer | null>>();

  constructor(options: RegistryKeySourceOptions) {
    this.#client = options.client;
    this.#keys = new LRUCache({
      max: options.cacheSize ?? RESOLVER_CACHE_SIZE,
      ttl: options.ttlMs ?? RESOLVER_CACHE_TTL_MS,
    });
  }

  expectedKey(nodeId: number, options: { signal?: AbortSignal } = {}): Promise<Buffer | null> {
    const hit = this.#keys.get(nodeId);
    if (hit !== undefined) return Promise.resolve(hit);
    let p = this.#inflight.get(nodeId);
    if (p === undefined) {
      const fetched = this.#fetch(nodeId);
      p = fetched;
      this.#inflight.set(nodeId, fetched);
      // Cache only if not invalidated meanwhile.
      fetched.then(
        (key) => {
          if (this.#inflight.get(nodeId) !== fetched) return;
          this.#inflight.delete(nodeId);
          if (key !== null) this.#keys.set(nodeId, key);
        },
        () => {
          if (this.#inflight.get(nodeId) === fetched) this.#inflight.delete(nodeId);
        },
      );
    }
    return withSignal(p, options.signal);
  }

  invalidate(nodeId: number): void {
    this.#keys.delete(nodeId);
    this.#inflight.delete(nodeId);
  }

  async #fetch(nodeId: number): Promise<Buffer | null> {
    let a: LookupAnswer;
    try {
      a = await this.#client.lookup(nodeId);
    } catch (err) {
      if (isNotFoundAnswer(err)) return null; // incl. a V1 registry's code-less "request failed"
      throw err;
    }
    // A record without a usable key (or another node's record) rejects ERR_REGISTRY_PROTOCOL: `null` would claim
    // the node has no registered key.
    return lookupKey(nodeId, a);
  }
}
