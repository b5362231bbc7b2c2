/**
 * Peer beacons and gossip ownership. A peer is a UDP endpoint of another beacon (static `peers`, learned from
 * the registry's `beacon_list`, or added at run time). Sync gossip from a peer says which node IDs it serves;
 * the owner map (node ID → peer) lets a beacon forward a Relay for a node it does not know locally.
 * Ownership entries expire (default 3 sync intervals) and are bounded in number.
 */

export type PeerSource = 'static' | 'registry' | 'dynamic';

export interface PeerBeacon {
  /** Address in the socket's family (IPv4-mapped on a dual-stack socket), ready for send(). */
  readonly address: string;
  readonly port: number;
  /** Configured form, e.g. `10.0.0.2:9001`. */
  readonly label: string;
  readonly source: PeerSource;
  /** Beacon ID learned from its Sync (or the registry), 0 until known. */
  beaconId: number;
  /** Epoch ms of the last Sync from it, 0 if none. */
  lastSyncAt: number;
  /**
   * Added only because it sent a Sync (`acceptUnknownPeers`): forgotten once silent for the ownership TTL,
   * and bounded in number. Configured, registry-listed and addPeer() peers are never forgotten this way.
   */
  learned: boolean;
}

interface Ownership {
  peer: PeerBeacon;
  expiresAt: number;
}

export class PeerBeacons {
  #peers: PeerBeacon[] = [];
  readonly #owners = new Map<number, Ownership>();
  readonly #ttlMs: number;
  readonly #maxOwners: number;

  constructor(ownerTtlMs: number, maxOwners: number) {
    this.#ttlMs = ownerTtlMs;
    this.#maxOwners = maxOwners;
  }

  /** Current peers (a copy). */
  list(): PeerBeacon[] {
    return [...this.#peers];
  }

  get size(): number {
    return this.#peers.length;
  }

  get ownerCount(): number {
    return this.#owners.size;
  }

  /** The peer at exactly `address:port`, by a linear scan (peer lists are small). */
  find(address: string, port: number): PeerBeacon | undefined {
    const peers = this.#peers;
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i];
      if (p.port === port && p.address === address) return p;
    }
    return undefined;
  }

  /** Peers added only because they sent a Sync (see {@link PeerBeacon.learned}). */
  get learnedCount(): number {
    let n = 0;
    for (const p of this.#peers) if (p.learned) n++;
    return n;
  }

  /**
   * Add a peer unless one with the same endpoint exists; returns the (existing or new) peer. `learned` marks a
   * peer added only because it sent a Sync; adding it again otherwise makes it a permanent peer.
   */
  add(
    address: string,
    port: number,
    label: string,
    source: PeerSource,
    beaconId = 0,
    learned = false,
  ): PeerBeacon {
    const existing = this.find(address, port);
    if (existing !== undefined) {
      if (beaconId !== 0) existing.beaconId = beaconId;
      if (!learned) existing.learned = false;
      return existing;
    }
    const p: PeerBeacon = { address, port, label, source, beaconId, lastSyncAt: 0, learned };
    this.#peers = [...this.#peers, p];
    return p;
  }

  /** Remove a peer and every ownership pointing at it. */
  remove(peer: PeerBeacon): void {
    this.#peers = this.#peers.filter((p) => p !== peer);
    for (const [id, o] of this.#owners) if (o.peer === peer) this.#owners.delete(id);
  }

  /** Keep only the `source` peers accepted by `keep`. */
  retain(source: PeerSource, keep: (p: PeerBeacon) => boolean): void {
    for (const p of this.#peers) if (p.source === source && !keep(p)) this.remove(p);
  }

  /** Record that `peer` serves `nodeIds` (from one Sync message). Returns how many were refused (full). */
  learn(peer: PeerBeacon, beaconId: number, nodeIds: readonly number[], now: number): number {
    peer.beaconId = beaconId;
    peer.lastSyncAt = now;
    const expiresAt = now + this.#ttlMs;
    let refused = 0;
    for (let i = 0; i < nodeIds.length; i++) {
      const id = nodeIds[i];
      const o = this.#owners.get(id);
      if (o !== undefined) {
        o.peer = peer;
        o.expiresAt = expiresAt;
      } else if (this.#owners.size < this.#maxOwners) {
        this.#owners.set(id, { peer, expiresAt });
      } else {
        refused++;
      }
    }
    return refused;
  }

  /** The peer that owns `nodeId`, or undefined (stale entries are removed). */
  owner(nodeId: number, now: number): PeerBeacon | undefined {
    const o = this.#owners.get(nodeId);
    if (o === undefined) return undefined;
    if (o.expiresAt < now) {
      this.#owners.delete(nodeId);
      return undefined;
    }
    return o.peer;
  }

  /** Drop stale ownerships, and learned peers silent for longer than the ownership TTL. */
  sweep(now: number): number {
    for (const p of this.#peers) if (p.learned && p.lastSyncAt + this.#ttlMs < now) this.remove(p);
    let n = 0;
    for (const [id, o] of this.#owners) {
      if (o.expiresAt < now) {
        this.#owners.delete(id);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.#peers = [];
    this.#owners.clear();
  }
}
