/**
 * One registered node, stored compactly: a fixed-shape class (one hidden class for every node), the public key
 * kept once as canonical base64 text (shared with the key index), last-seen in whole seconds (a small integer,
 * not a boxed double), and optional parts left undefined rather than allocated empty. Backbone membership is
 * implicit; `networks` lists only the other networks. About 300 bytes per node including the indexes.
 */
import type { NodeJson } from './snapshot-types.js';

export class NodeRecord {
  readonly id: number;
  /** Canonical standard base64 of the 32-byte key. */
  publicKey: string;
  owner: string | undefined;
  /** `ip:port` the node registered, or undefined. */
  realAddr: string | undefined;
  /** Non-backbone network IDs, or undefined. */
  networks: number[] | undefined;
  isPublic: boolean;
  /** Unix seconds of the last registration or heartbeat. */
  lastSeen: number;
  hostname: string | undefined;
  tags: string[] | undefined;
  poloScore: number;
  taskExec: boolean;
  /** Snapshot bookkeeping: the save epoch in which this record was last written (see RegistryState). */
  savedEpoch: number;

  constructor(id: number, publicKey: string, lastSeen: number) {
    this.id = id;
    this.publicKey = publicKey;
    this.owner = undefined;
    this.realAddr = undefined;
    this.networks = undefined;
    this.isPublic = false;
    this.lastSeen = lastSeen;
    this.hostname = undefined;
    this.tags = undefined;
    this.poloScore = 0;
    this.taskExec = false;
    this.savedEpoch = 0;
  }

  /** Memberships including the backbone, in the order they were joined. */
  networkList(): number[] {
    return this.networks ? [0, ...this.networks] : [0];
  }

  /** Shares a network other than the backbone with `other`. */
  sharesNetworkWith(other: NodeRecord): boolean {
    const a = this.networks;
    const b = other.networks;
    if (!a || !b) return false;
    for (const n of a) if (b.includes(n)) return true;
    return false;
  }

  toJson(): NodeJson {
    const j: NodeJson = { id: this.id, public_key: this.publicKey, networks: this.networkList() };
    if (this.owner !== undefined) j.owner = this.owner;
    if (this.realAddr !== undefined) j.real_addr = this.realAddr;
    if (this.isPublic) j.public = true;
    j.last_seen = new Date(this.lastSeen * 1000).toISOString();
    if (this.hostname !== undefined) j.hostname = this.hostname;
    if (this.tags !== undefined && this.tags.length > 0) j.tags = this.tags;
    if (this.poloScore !== 0) j.polo_score = this.poloScore;
    if (this.taskExec) j.task_exec = true;
    return j;
  }
}
