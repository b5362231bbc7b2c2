/**
 * Where the tunnel learns the Ed25519 key a peer must sign its `PILA` with, and where it finds a peer's
 * UDP endpoint. A static map now; the registry client implements the same shapes.
 */
import type { Endpoint } from '../coreapi/resolver.js';

export interface ExpectedKeySource {
  /** The raw 32-byte Ed25519 key registered for `nodeId`, or null when unknown. May answer synchronously. */
  expectedKey(nodeId: number): Buffer | null | Promise<Buffer | null>;
  /**
   * Forget what is cached for `nodeId` (optional): the tunnel calls it when a peer's key exchange carries a
   * key other than the expected one, then asks once more, so a peer that rotated its key is not refused until
   * the cache expires.
   */
  invalidate?(nodeId: number): void;
}

export interface EndpointSource {
  /** The UDP endpoint of `nodeId`, or null when unknown. */
  resolveEndpoint(nodeId: number): Endpoint | null | Promise<Endpoint | null>;
}

/** A fixed table of peers: node ID → key and endpoint. */
export class StaticPeerDirectory implements ExpectedKeySource, EndpointSource {
  #keys = new Map<number, Buffer>();
  #endpoints = new Map<number, Endpoint>();

  constructor(entries: Iterable<{ nodeId: number; publicKey?: Uint8Array; endpoint?: Endpoint }> = []) {
    for (const e of entries) this.set(e.nodeId, e);
  }

  set(nodeId: number, entry: { publicKey?: Uint8Array; endpoint?: Endpoint }): this {
    if (entry.publicKey) this.#keys.set(nodeId, Buffer.from(entry.publicKey));
    if (entry.endpoint) this.#endpoints.set(nodeId, { host: entry.endpoint.host, port: entry.endpoint.port });
    return this;
  }

  delete(nodeId: number): void {
    this.#keys.delete(nodeId);
    this.#endpoints.delete(nodeId);
  }

  expectedKey(nodeId: number): Buffer | null {
    return this.#keys.get(nodeId) ?? null;
  }

  resolveEndpoint(nodeId: number): Endpoint | null {
    return this.#endpoints.get(nodeId) ?? null;
  }
}
