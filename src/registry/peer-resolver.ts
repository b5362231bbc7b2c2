/**
 * coreapi `PeerResolver` backed by a registry. `resolve(id)` = `lookup` (key, visibility, hostname, and the
 * endpoint of public nodes) plus, for private nodes, a signed `resolve` by the client's node for the endpoint
 * (refused without trust or a shared network: the peer is then returned with `endpoint: null`). Answers are
 * cached in an LRU bounded in size and age; concurrent calls for one ID share one registry round trip;
 * `invalidate(id)` drops a peer (call it when the peer re-keys). Unknown peers reject ERR_PEER_NOT_FOUND.
 */
import { LRUCache } from 'lru-cache';
import { AbortError, PeerNotFoundError } from '../coreapi/errors.js';
import type { Endpoint, PeerInfo, PeerResolver, ResolveOptions } from '../coreapi/resolver.js';
import type { RegistryClient } from './client.js';
import type { LookupAnswer } from './client-messages.js';
import { RESOLVER_CACHE_SIZE, RESOLVER_CACHE_TTL_MS } from './constants.js';
import { isPilotError } from '../coreapi/errors.js';
import { RegistryProtocolError } from './errors.js';
import { splitHostPort } from './validation.js';

export interface RegistryPeerResolverOptions {
  client: RegistryClient;
  /** Cached peers (default 4096). */
  cacheSize?: number;
  /** Cache lifetime (default 30 s). */
  ttlMs?: number;
}

/**
 * Did the registry answer "no such node / name"? Our registry (and any that sends our codes) says
 * ERR_REGISTRY_NOT_FOUND. A V1 reference registry answers every failure with a code-less "request failed"
 * (ERR_REGISTRY_REQUEST_FAILED here); for the unauthenticated `lookup` and `resolve_hostname` its only failure is
 * an unknown node or name (reference §7.1, §7.3).
 */
export function isNotFoundAnswer(err: unknown): boolean {
  return isPilotError(err, 'ERR_REGISTRY_NOT_FOUND') || isPilotError(err, 'ERR_REGISTRY_REQUEST_FAILED');
}

const STRICT_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The 32-byte key of a `lookup` answer for `nodeId`. A registry answering with another node's record, or without a
 * usable key, is broken or out of sync: ERR_REGISTRY_PROTOCOL (never another node's key, never a garbled one).
 */
export function lookupKey(nodeId: number, answer: LookupAnswer): Buffer {
  if (answer.node_id !== nodeId) {
    throw new RegistryProtocolError(`lookup of node ${nodeId} answered for node ${String(answer.node_id)}`);
  }
  const text: unknown = answer.public_key;
  const key = typeof text === 'string' && STRICT_BASE64.test(text) ? Buffer.from(text, 'base64') : null;
  if (key === null || key.length !== 32) {
    throw new RegistryProtocolError(`lookup of node ${nodeId} answered without a valid 32-byte public key`);
  }
  return key;
}

/** `ip:port` / `[v6]:port` → Endpoint; null when empty or malformed. */
export function parseEndpoint(text: string | undefined): Endpoint | null {
  if (!text) return null;
  const hp = splitHostPort(text);
  return hp && hp.host !== '' ? { host: hp.host, port: hp.port } : null;
}

/** Settle with `p`, or reject ERR_ABORTED when `signal` fires first. */
export function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new AbortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

export class RegistryPeerResolver implements PeerResolver {
  readonly #client: RegistryClient;
  readonly #peers: LRUCache<number, PeerInfo>;
  readonly #hostnames: LRUCache<string, number>;
  readonly #inflight = new Map<number, Promise<PeerInfo>>();

  constructor(options: RegistryPeerResolverOptions) {
    this.#client = options.client;
    const max = options.cacheSize ?? RESOLVER_CACHE_SIZE;
    const ttl = options.ttlMs ?? RESOLVER_CACHE_TTL_MS;
    this.#peers = new LRUCache({ max, ttl });
    this.#hostnames = new LRUCache({ max, ttl });
  }

  /** Cached peers right now. */
  get cacheSize(): number {
    return this.#peers.size;
  }

  resolve(nodeId: number, options: ResolveOptions = {}): Promise<PeerInfo> {
    const hit = this.#peers.get(nodeId);
    if (hit !== undefined) return Promise.resolve(hit);
    let p = this.#inflight.get(nodeId);
    if (p === undefined) {
      const fetched = this.#fetch(nodeId);
      p = fetched;
      this.#inflight.set(nodeId, fetched);
      // Cache only if not invalidated meanwhile.
      fetched.then(
        (peer) => {
          if (this.#inflight.get(nodeId) !== fetched) return;
          this.#inflight.delete(nodeId);
          this.#peers.set(nodeId, peer);
          if (peer.hostname !== undefined) this.#hostnames.set(peer.hostname, nodeId);
        },
        () => {
          if (this.#inflight.get(nodeId) === fetched) this.#inflight.delete(nodeId);
        },
      );
    }
    return withSignal(p, options.signal);
  }

  async resolveHostname(name: string, options: ResolveOptions = {}): Promise<number> {
    const hit = this.#hostnames.get(name);
    if (hit !== undefined) return hit;
    try {
      const a = await this.#client.resolveHostname(name, { signal: options.signal });
      this.#hostnames.set(name, a.node_id);
      return a.node_id;
    } catch (err) {
      if (isNotFoundAnswer(err)) {
        throw new PeerNotFoundError(`coreapi: peer not found: hostname "${name}"`, { cause: err });
      }
      throw err;
    }
  }

  /** Members of a network the registry lets us list (not the backbone), each resolved (cached). */
  async listByNetwork(networkId: number, options: ResolveOptions = {}): Promise<PeerInfo[]> {
    const list = await this.#client.listNodes(networkId, { signal: options.signal });
    const settled = await Promise.allSettled(list.nodes.map((n) => this.resolve(n.node_id, options)));
    const out: PeerInfo[] = [];
    for (const s of settled) {
      if (s.status === 'fulfilled') out.push(s.value);
      else if (!isPilotError(s.reason, 'ERR_PEER_NOT_FOUND')) throw s.reason;
    }
    return out;
  }

  /** Forget a peer (re-keyed, moved, or a tunnel check failed). */
  invalidate(nodeId: number): void {
    this.#peers.delete(nodeId);
    this.#inflight.delete(nodeId);
    // Every name that resolved to the node, whether learned from resolve() or from resolveHostname().
    const names: string[] = [];
    for (const [name, id] of this.#hostnames.entries()) if (id === nodeId) names.push(name);
    for (const name of names) this.#hostnames.delete(name);
  }

  /** Forget everything. */
  clear(): void {
    this.#peers.clear();
    this.#hostnames.clear();
    this.#inflight.clear();
  }

  async #fetch(nodeId: number): Promise<PeerInfo> {
    let info: LookupAnswer;
    try {
      info = await this.#client.lookup(nodeId);
    } catch (err) {
      if (isNotFoundAnswer(err)) {
        throw new PeerNotFoundError(`coreapi: peer not found: node ${nodeId}`, { cause: err });
      }
      throw err;
    }
    const publicKey = lookupKey(nodeId, info);
    let endpoint = parseEndpoint(typeof info.real_addr === 'string' ? info.real_addr : undefined);
    if (endpoint === null && this.#client.nodeId !== 0 && this.#client.signer !== undefined) {
      try {
        const r = await this.#client.resolve(nodeId);
        endpoint = parseEndpoint(typeof r.real_addr === 'string' ? r.real_addr : undefined);
      } catch (err) {
        // Private without trust, or we are not registered: the peer exists but its endpoint stays hidden. A V1
        // reference registry says both (and a refused signature) only as a code-less "request failed".
        if (
          !isPilotError(err, 'ERR_REGISTRY_RESOLVE_DENIED') &&
          !isPilotError(err, 'ERR_REGISTRY_NOT_FOUND') &&
          !isPilotError(err, 'ERR_REGISTRY_REQUEST_FAILED')
        ) {
          throw err;
        }
      }
    }
    const peer: PeerInfo = {
      nodeId,
      addr: { network: 0, node: nodeId },
      endpoint,
      publicKey,
      public: info.public === true,
      ...(typeof info.hostname === 'string' ? { hostname: info.hostname } : {}),
      relayOnly: false,
    };
    return peer;
  }
}
