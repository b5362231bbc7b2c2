/**
 * The registry's in-memory state and its mutation primitives. Handlers decide what a request means; every change
 * to the state goes through a method here, so indexes stay consistent, the change tracker sees it (persistence
 * and replication), and an asynchronous snapshot in progress keeps a point-in-time view: before a node record
 * that has not yet been written in the current save epoch is changed or removed, its current form is kept as a
 * preimage and written instead.
 */
import { ChangeTracker } from './change-tracker.js';
import { NodeRecord } from './node-record.js';
import type {
  HandshakeRequestJson,
  HandshakeResponseJson,
  InviteJson,
  JoinRule,
  NodeJson,
} from './snapshot-types.js';

export interface NetworkRecord {
  readonly id: number;
  readonly name: string;
  readonly joinRule: JoinRule;
  readonly token: string | undefined;
  /** Members (unused for the backbone, whose members are all nodes). */
  readonly members: Set<number>;
  /** RFC 3339. */
  readonly created: string;
}

/** The largest node ID handed out (0xFFFFFFFF is the broadcast node). */
export const MAX_NODE_ID = 0xfffffffe;
/** The largest network ID. */
export const MAX_NETWORK_ID = 0xffff;

/** Unordered trust pair key `min:max`. */
export function trustPairKey(a: number, b: number): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

export class RegistryState {
  readonly changes: ChangeTracker;
  readonly #clock: () => number;
  #nodes = new Map<number, NodeRecord>();
  #keyIndex = new Map<string, number>();
  #ownerIndex = new Map<string, number>();
  /** Reverse of #ownerIndex: the owner string indexed for a node ID. */
  #ownerOfId = new Map<number, string>();
  /**
   * Owners recorded on node records that went away (deregistered, reaped, replaced). A node whose owner string is
   * also another live node's is not in #ownerIndex, so without this its claim would vanish with its record.
   */
  #deadOwners = new Map<number, string>();
  #hostnames = new Map<string, number>();
  #networks = new Map<number, NetworkRecord>();
  #networkNames = new Map<string, number>();
  #trust = new Set<string>();
  #inbox = new Map<number, HandshakeRequestJson[]>();
  #responses = new Map<number, HandshakeResponseJson[]>();
  #invites = new Map<number, InviteJson[]>();
  #nextNode = 1;
  #nextNet = 1;
  #epoch = 0;
  #preimages: Map<number, NodeJson> | null = null;

  /** `clock` returns milliseconds since the epoch. */
  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
    this.changes = new ChangeTracker(clock);
    this.#addBackbone();
  }

  /** Current time in unix seconds. */
  nowSec(): number {
    return Math.floor(this.#clock() / 1000);
  }

  // ---- read access -------------------------------------------------------------------------------------------

  get nodes(): ReadonlyMap<number, NodeRecord> {
    return this.#nodes;
  }
  get networks(): ReadonlyMap<number, NetworkRecord> {
    return this.#networks;
  }
  get keyIndex(): ReadonlyMap<string, number> {
    return this.#keyIndex;
  }
  get ownerIndex(): ReadonlyMap<string, number> {
    return this.#ownerIndex;
  }
  get trustPairs(): ReadonlySet<string> {
    return this.#trust;
  }
  get inboxes(): ReadonlyMap<number, readonly HandshakeRequestJson[]> {
    return this.#inbox;
  }
  get responseInboxes(): ReadonlyMap<number, readonly HandshakeResponseJson[]> {
    return this.#responses;
  }
  get inviteInboxes(): ReadonlyMap<number, readonly InviteJson[]> {
    return this.#invites;
  }
  get nextNode(): number {
    return this.#nextNode;
  }
  get nextNet(): number {
    return this.#nextNet;
  }

  node(id: number): NodeRecord | undefined {
    return this.#nodes.get(id);
  }
  idForHostname(name: string): number | undefined {
    return this.#hostnames.get(name);
  }
  networkByName(name: string): NetworkRecord | undefined {
    const id = this.#networkNames.get(name);
    return id === undefined ? undefined : this.#networks.get(id);
  }
  hasTrust(a: number, b: number): boolean {
    return this.#trust.has(trustPairKey(a, b));
  }
  /** True when `id` was ever handed out and is still indexed (alive, reaped or deregistered). */
  isKnownId(id: number): boolean {
    return this.#nodes.has(id) || (id > 0 && id < this.#nextNode);
  }

  // ---- nodes -------------------------------------------------------------------------------------------------

  /** Hand out the next node ID. */
  allocNodeId(): number | null {
    if (this.#nextNode > MAX_NODE_ID) return null;
    const id = this.#nextNode++;
    this.changes.counters();
    return id;
  }

  /** Create (or re-create) a node record; indexes its key. */
  createNode(id: number, publicKey: string): NodeRecord {
    const rec = new NodeRecord(id, publicKey, this.nowSec());
    // Not part of a snapshot that started before it existed (a removed predecessor left a preimage).
    rec.savedEpoch = this.#epoch;
    this.#nodes.set(id, rec);
    this.changes.node(id);
    this.indexKey(publicKey, id);
    if (id >= this.#nextNode) {
      this.#nextNode = id + 1;
      this.changes.counters();
    }
    return rec;
  }

  /** Prepare `rec` for a change and record it; returns `rec` for chaining. */
  edit(rec: NodeRecord): NodeRecord {
    this.#preserve(rec);
    this.changes.node(rec.id);
    return rec;
  }

  /** Map a key to a node ID (kept after deregistration and reaping). */
  indexKey(publicKey: string, id: number): void {
    if (this.#keyIndex.get(publicKey) !== id) {
      this.#keyIndex.set(publicKey, id);
      this.changes.key(publicKey);
    }
  }

  /** Forget a key (rotated away or replaced by owner recovery). */
  unindexKey(publicKey: string): void {
    if (this.#keyIndex.delete(publicKey)) this.changes.key(publicKey);
  }

  /** Replace a node's key; the old key no longer maps to the node. */
  setKey(rec: NodeRecord, publicKey: string): void {
    if (rec.publicKey === publicKey) return;
    this.edit(rec);
    if (this.#keyIndex.get(rec.publicKey) === rec.id) this.unindexKey(rec.publicKey);
    rec.publicKey = publicKey;
    this.indexKey(publicKey, rec.id);
  }

  /** Record a node's owner; the owner index is pointed at the node only when `index` is true. */
  setOwner(rec: NodeRecord, owner: string | undefined, index: boolean): void {
    if (rec.owner !== owner) this.edit(rec).owner = owner;
    if (index && owner !== undefined) this.indexOwner(owner, rec.id);
  }

  /** Point an owner string at a node ID, or forget it (replication). */
  indexOwner(owner: string, id: number | undefined): void {
    const old = this.#ownerIndex.get(owner);
    if (old === id) return;
    if (old !== undefined && this.#ownerOfId.get(old) === owner) this.#ownerOfId.delete(old);
    if (id === undefined) {
      this.#ownerIndex.delete(owner);
    } else {
      this.#ownerIndex.set(owner, id);
      this.#ownerOfId.set(id, owner);
    }
    this.changes.owner(owner);
  }

  /** The node ID an owner string belongs to, if any. */
  idForOwner(owner: string): number | undefined {
    return this.#ownerIndex.get(owner);
  }

  /** The owner recorded for a node ID (alive, reaped or deregistered; indexed or not), if any. */
  ownerOf(id: number): string | undefined {
    return this.#ownerOfId.get(id) ?? this.#nodes.get(id)?.owner ?? this.#deadOwners.get(id);
  }

  /** Owners of node IDs whose record went away (see {@link ownerOf}). */
  get deadOwners(): ReadonlyMap<number, string> {
    return this.#deadOwners;
  }

  /** Remember the owner of a node ID whose record is gone (loading, replication). */
  recordDeadOwner(id: number, owner: string): void {
    if (this.#deadOwners.get(id) !== owner) {
      this.#deadOwners.set(id, owner);
      this.changes.markDirty();
    }
  }

  /** Set or clear a hostname. The caller checked validity and uniqueness. */
  setHostname(rec: NodeRecord, name: string | undefined): void {
    if (rec.hostname === name) return;
    this.edit(rec);
    if (rec.hostname !== undefined && this.#hostnames.get(rec.hostname) === rec.id) {
      this.#hostnames.delete(rec.hostname);
    }
    rec.hostname = name;
    if (name !== undefined) this.#hostnames.set(name, rec.id);
  }

  /** Remove a node: its hostname and memberships go; key/owner indexes, trust and inboxes stay. */
  removeNode(rec: NodeRecord): void {
    this.#preserve(rec);
    // The owner claim outlives the record (an owner once recorded for an ID is never replaced).
    if (rec.owner !== undefined) this.#deadOwners.set(rec.id, rec.owner);
    if (rec.hostname !== undefined && this.#hostnames.get(rec.hostname) === rec.id) {
      this.#hostnames.delete(rec.hostname);
    }
    if (rec.networks) {
      for (const netId of rec.networks) {
        const net = this.#networks.get(netId);
        if (net?.members.delete(rec.id)) this.changes.network(netId);
      }
    }
    this.#nodes.delete(rec.id);
    this.changes.node(rec.id);
  }

  // ---- networks ----------------------------------------------------------------------------------------------

  /** Hand out the next network ID. */
  allocNetworkId(): number | null {
    if (this.#nextNet > MAX_NETWORK_ID) return null;
    const id = this.#nextNet++;
    this.changes.counters();
    return id;
  }

  putNetwork(net: NetworkRecord): void {
    const old = this.#networks.get(net.id);
    if (old && this.#networkNames.get(old.name) === old.id) this.#networkNames.delete(old.name);
    this.#networks.set(net.id, net);
    this.#networkNames.set(net.name, net.id);
    if (net.id >= this.#nextNet) {
      this.#nextNet = net.id + 1;
      this.changes.counters();
    }
    this.changes.network(net.id);
  }

  addMember(net: NetworkRecord, rec: NodeRecord): void {
    if (net.id === 0 || net.members.has(rec.id)) return;
    net.members.add(rec.id);
    const e = this.edit(rec);
    e.networks = e.networks ? [...e.networks, net.id] : [net.id];
    this.changes.network(net.id);
  }

  removeMember(net: NetworkRecord, rec: NodeRecord): void {
    if (!net.members.delete(rec.id)) return;
    const e = this.edit(rec);
    const rest = (e.networks ?? []).filter((n) => n !== net.id);
    e.networks = rest.length > 0 ? rest : undefined;
    this.changes.network(net.id);
  }

  // ---- trust and inboxes -------------------------------------------------------------------------------------

  addTrust(a: number, b: number): void {
    const key = trustPairKey(a, b);
    if (!this.#trust.has(key)) {
      this.#trust.add(key);
      this.changes.trust(true, key);
    }
  }

  removeTrust(a: number, b: number): boolean {
    const key = trustPairKey(a, b);
    if (!this.#trust.delete(key)) return false;
    this.changes.trust(false, key);
    return true;
  }

  /** Replace a node's pending handshake requests (empty array clears). */
  setInbox(id: number, list: HandshakeRequestJson[]): void {
    if (list.length === 0) this.#inbox.delete(id);
    else this.#inbox.set(id, list);
    this.changes.inbox(id);
  }

  setResponses(id: number, list: HandshakeResponseJson[]): void {
    if (list.length === 0) this.#responses.delete(id);
    else this.#responses.set(id, list);
    this.changes.responses(id);
  }

  setInvites(id: number, list: InviteJson[]): void {
    if (list.length === 0) this.#invites.delete(id);
    else this.#invites.set(id, list);
    this.changes.invites(id);
  }

  /** Set the counters (loading); never moves them backwards. */
  setCounters(nextNode: number, nextNet: number): void {
    this.#nextNode = Math.max(this.#nextNode, nextNode);
    this.#nextNet = Math.max(this.#nextNet, nextNet);
    this.changes.counters();
  }

  /** Drop everything (before loading a full snapshot); the backbone is recreated. */
  reset(): void {
    this.#nodes = new Map();
    this.#keyIndex = new Map();
    this.#ownerIndex = new Map();
    this.#ownerOfId = new Map();
    this.#deadOwners = new Map();
    this.#hostnames = new Map();
    this.#networks = new Map();
    this.#networkNames = new Map();
    this.#trust = new Set();
    this.#inbox = new Map();
    this.#responses = new Map();
    this.#invites = new Map();
    this.#nextNode = 1;
    this.#nextNet = 1;
    this.#addBackbone();
    this.changes.markDirty();
  }

  // ---- snapshot epochs ---------------------------------------------------------------------------------------

  /** Start a point-in-time save: returns the epoch and the preimage map the save must prefer. */
  beginSaveEpoch(): { epoch: number; preimages: Map<number, NodeJson> } {
    this.#epoch++;
    this.#preimages = new Map();
    return { epoch: this.#epoch, preimages: this.#preimages };
  }

  /** The save of the current epoch finished (or failed). */
  endSaveEpoch(): void {
    this.#preimages = null;
  }

  #preserve(rec: NodeRecord): void {
    if (this.#preimages !== null && rec.savedEpoch !== this.#epoch) {
      this.#preimages.set(rec.id, rec.toJson());
      rec.savedEpoch = this.#epoch;
    }
  }

  #addBackbone(): void {
    const backbone: NetworkRecord = {
      id: 0,
      name: 'backbone',
      joinRule: 'open',
      token: undefined,
      members: new Set(),
      created: new Date(this.#clock()).toISOString(),
    };
    this.#networks.set(0, backbone);
    this.#networkNames.set('backbone', 0);
  }
}
