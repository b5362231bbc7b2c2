/**
 * Conversions between {@link RegistryState} and its JSON forms: the snapshot (file store and replication
 * snapshot), the point-in-time asynchronous snapshot source, and the replication change batch.
 */
import { SNAPSHOT_CHUNK_NODES } from './constants.js';
import { RegistryStoreError } from './errors.js';
import type { ChangeKeys } from './change-tracker.js';
import type { NodeRecord } from './node-record.js';
import { MAX_NETWORK_ID, MAX_NODE_ID, type NetworkRecord, type RegistryState } from './registry-state.js';
import type {
  HandshakeRequestJson,
  HandshakeResponseJson,
  InviteJson,
  JoinRule,
  NetworkJson,
  NodeJson,
  SnapshotData,
  SnapshotHeader,
  SnapshotSource,
} from './snapshot-types.js';
import { decodeBase64Exact } from './validation.js';

/** A replication change batch: each entity's current form (null = gone). */
export interface ChangesJson {
  nodes?: Record<string, NodeJson | null>;
  networks?: Record<string, NetworkJson | null>;
  pub_key_idx?: Record<string, number | null>;
  owner_idx?: Record<string, number | null>;
  /** Owners of nodes in `nodes` that are gone (their claim outlives the record). */
  node_owners?: Record<string, string>;
  /** Trust pair operations in order: `["+", "a:b"]` or `["-", "a:b"]`. */
  trust?: Array<['+' | '-', string]>;
  handshake_inbox?: Record<string, HandshakeRequestJson[]>;
  handshake_responses?: Record<string, HandshakeResponseJson[]>;
  network_invites?: Record<string, InviteJson[]>;
  next_node?: number;
  next_net?: number;
}

function networkJson(net: NetworkRecord): NetworkJson {
  const j: NetworkJson = {
    id: net.id,
    name: net.name,
    join_rule: net.joinRule,
    members: net.id === 0 ? [] : [...net.members],
    created: net.created,
  };
  if (net.token !== undefined) j.token = net.token;
  return j;
}

/**
 * An empty object without a prototype, for objects keyed by request text (owner strings): on a plain `{}`,
 * `o["__proto__"] = v` sets the prototype instead of adding an entry, and the entry would be lost.
 */
function dict<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

function mapToRecord<V, W>(map: ReadonlyMap<number, V>, conv: (v: V) => W): Record<string, W> {
  const out = dict<W>();
  for (const [k, v] of map) out[String(k)] = conv(v);
  return out;
}

/** Everything but the node records, copied so later changes do not affect it. */
export function snapshotHeader(state: RegistryState): SnapshotHeader {
  const nodes = state.nodes;
  const pubKeyIdx = dict<number>();
  for (const [key, id] of state.keyIndex) if (nodes.get(id)?.publicKey !== key) pubKeyIdx[key] = id;
  const ownerIdx = dict<number>();
  for (const [owner, id] of state.ownerIndex) if (nodes.get(id)?.owner !== owner) ownerIdx[owner] = id;
  const nodeOwners = dict<string>();
  for (const [id, owner] of state.deadOwners) {
    if (nodes.get(id)?.owner !== owner && state.ownerIndex.get(owner) !== id) nodeOwners[String(id)] = owner;
  }
  return {
    next_node: state.nextNode,
    next_net: state.nextNet,
    networks: mapToRecord(state.networks, networkJson),
    trust_pairs: [...state.trustPairs],
    pub_key_idx: pubKeyIdx,
    owner_idx: ownerIdx,
    node_owners: nodeOwners,
    handshake_inbox: mapToRecord(state.inboxes, (l) => [...l]),
    handshake_responses: mapToRecord(state.responseInboxes, (l) => [...l]),
    network_invites: mapToRecord(state.inviteInboxes, (l) => [...l]),
  };
}

/** A complete snapshot built synchronously. */
export function snapshotData(state: RegistryState): SnapshotData {
  const nodes = dict<NodeJson>();
  for (const [id, rec] of state.nodes) nodes[String(id)] = rec.toJson();
  return { ...snapshotHeader(state), nodes };
}

/**
 * A point-in-time snapshot whose node records are produced in batches. Changes made while the batches are
 * consumed do not leak into it (see RegistryState preimages). The caller must call `state.endSaveEpoch()`
 * once it is done with the source, whether the save succeeded or not.
 */
export function beginSnapshot(state: RegistryState, chunk = SNAPSHOT_CHUNK_NODES): SnapshotSource {
  const { epoch, preimages } = state.beginSaveEpoch();
  const nodes = state.nodes;
  const ids = [...nodes.keys()];
  const header = snapshotHeader(state);
  return {
    header,
    nodeCount: ids.length,
    async *nodeBatches(): AsyncIterable<NodeJson[]> {
      for (let i = 0; i < ids.length; i += chunk) {
        const batch: NodeJson[] = [];
        const end = Math.min(ids.length, i + chunk);
        for (let j = i; j < end; j++) {
          const id = ids[j];
          const pre = preimages.get(id);
          if (pre !== undefined) {
            batch.push(pre);
            continue;
          }
          const rec = nodes.get(id);
          if (rec !== undefined && rec.savedEpoch !== epoch) {
            rec.savedEpoch = epoch;
            batch.push(rec.toJson());
          }
        }
        yield batch;
      }
    },
  };
}

// ---- loading -------------------------------------------------------------------------------------------------

function corrupt(msg: string): RegistryStoreError {
  return new RegistryStoreError('ERR_REGISTRY_STORE_CORRUPT', `registry snapshot: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max;
}

function toUnix(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.floor(v);
  if (typeof v === 'string') {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return Math.floor(t / 1000);
  }
  return 0;
}

function canonicalKey(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const raw = decodeBase64Exact(v, 32);
  return raw ? raw.toString('base64') : null;
}

const JOIN_RULES = new Set<string>(['open', 'token', 'invite']);

function loadNetwork(state: RegistryState, j: unknown): void {
  if (!isObject(j) || typeof j.id !== 'number' || typeof j.name !== 'string') return;
  if (!Number.isInteger(j.id) || j.id < 0 || j.id > MAX_NETWORK_ID) return;
  const joinRule = (
    typeof j.join_rule === 'string' && JOIN_RULES.has(j.join_rule) ? j.join_rule : 'open'
  ) as JoinRule;
  const members = new Set<number>();
  if (j.id !== 0 && Array.isArray(j.members))
    for (const m of j.members) if (isId(m, MAX_NODE_ID)) members.add(m);
  state.putNetwork({
    id: j.id,
    name: j.id === 0 ? 'backbone' : j.name,
    joinRule,
    token: typeof j.token === 'string' && j.token !== '' ? j.token : undefined,
    members,
    created: typeof j.created === 'string' ? j.created : new Date().toISOString(),
  });
}

/** Top-level fields of a snapshot (ours and the reference's). */
const SNAPSHOT_FIELDS = new Set<string>([
  'next_node',
  'next_net',
  'nodes',
  'networks',
  'trust_pairs',
  'pub_key_idx',
  'owner_idx',
  'node_owners',
  'handshake_inbox',
  'handshake_responses',
  'network_invites',
]);

/** A node record {@link applyNodeJson} can load. */
function usableNodeJson(j: unknown): j is Record<string, unknown> & { id: number } {
  return isObject(j) && isId(j.id, MAX_NODE_ID) && canonicalKey(j.public_key) !== null;
}

/** Create or replace one node from its JSON; false when the record is unusable. */
export function applyNodeJson(state: RegistryState, j: unknown, lastSeen: number | null): boolean {
  if (!usableNodeJson(j)) return false;
  const key = canonicalKey(j.public_key) as string;
  const old = state.node(j.id);
  if (old) state.removeNode(old);
  const rec = state.createNode(j.id, key);
  if (typeof j.owner === 'string' && j.owner !== '') state.setOwner(rec, j.owner, false);
  if (typeof j.real_addr === 'string' && j.real_addr !== '') rec.realAddr = j.real_addr;
  rec.isPublic = j.public === true;
  rec.lastSeen = lastSeen ?? (toUnix(j.last_seen) || state.nowSec());
  if (typeof j.hostname === 'string' && j.hostname !== '') {
    const holder = state.idForHostname(j.hostname);
    const other = holder === undefined ? undefined : state.node(holder);
    if (other && other !== rec) state.setHostname(other, undefined);
    state.setHostname(rec, j.hostname);
  }
  if (Array.isArray(j.tags)) {
    const tags = j.tags.filter((t): t is string => typeof t === 'string');
    if (tags.length > 0) rec.tags = tags;
  }
  if (typeof j.polo_score === 'number' && Number.isFinite(j.polo_score)) rec.poloScore = j.polo_score;
  rec.taskExec = j.task_exec === true;
  if (Array.isArray(j.networks)) {
    const nets = j.networks.filter((n): n is number => isId(n, MAX_NETWORK_ID));
    if (nets.length > 0) rec.networks = nets;
    // Replacing a record (a replicated change) dropped it from its networks' member sets: restore them.
    for (const n of nets) state.networks.get(n)?.members.add(rec.id);
  }
  return true;
}

function loadList<T>(v: unknown, ok: (x: Record<string, unknown>) => boolean): T[] {
  if (!Array.isArray(v)) return [];
  return v.filter((x) => isObject(x) && ok(x)) as T[];
}

const isRequest = (x: Record<string, unknown>): boolean =>
  isId(x.from_node_id, MAX_NODE_ID) && typeof x.justification === 'string';
const isResponse = (x: Record<string, unknown>): boolean =>
  isId(x.from_node_id, MAX_NODE_ID) && typeof x.accept === 'boolean';
const isInvite = (x: Record<string, unknown>): boolean =>
  isId(x.network_id, MAX_NETWORK_ID) && typeof x.inviter_id === 'number';

function normalizeTimestamps<T extends { timestamp: number }>(list: T[]): T[] {
  return list.map((x) => ({ ...x, timestamp: toUnix(x.timestamp) }));
}

export interface LoadResult {
  nodes: number;
  skipped: number;
}

/**
 * Replace the state with a snapshot (ours or a reference registry's file). The top-level shape must be right
 * (else ERR_REGISTRY_STORE_CORRUPT); unusable individual records are skipped and counted. Restored nodes get
 * `lastSeen` = `liveSince` (a full liveness period after a restart) unless it is null.
 */
export function loadSnapshot(state: RegistryState, data: unknown, liveSince: number | null): LoadResult {
  if (!isObject(data)) throw corrupt('not a JSON object');
  const fields = Object.keys(data);
  if (fields.length > 0 && !fields.some((f) => SNAPSHOT_FIELDS.has(f))) {
    // Some other JSON file (a wrong --store path): loading it as empty would overwrite it at the next save.
    throw corrupt(`not a registry snapshot (no registry fields among ${fields.slice(0, 5).join(', ')})`);
  }
  if (data.nodes !== undefined && !isObject(data.nodes)) throw corrupt('"nodes" is not an object');
  if (data.networks !== undefined && !isObject(data.networks)) throw corrupt('"networks" is not an object');
  if (isObject(data.nodes)) {
    const records = Object.values(data.nodes);
    if (records.length > 0 && !records.some(usableNodeJson)) {
      // Starting empty would silently lose every node (and the next save would erase them from the file).
      throw corrupt(`none of the ${records.length} node records is usable (id and base64 public_key)`);
    }
  }
  state.reset();
  let count = 0;
  let skipped = 0;
  if (isObject(data.networks)) for (const j of Object.values(data.networks)) loadNetwork(state, j);
  if (isObject(data.nodes)) {
    for (const j of Object.values(data.nodes)) {
      if (applyNodeJson(state, j, liveSince)) count++;
      else skipped++;
    }
  }
  // Memberships come from the node records; drop members that do not exist.
  for (const net of state.networks.values()) {
    for (const m of [...net.members]) {
      const rec = state.node(m);
      if (!rec || !rec.networks?.includes(net.id)) net.members.delete(m);
    }
  }
  for (const rec of state.nodes.values()) {
    if (!rec.networks) continue;
    const valid = rec.networks.filter((n) => state.networks.has(n));
    rec.networks = valid.length > 0 ? valid : undefined;
    for (const n of valid) state.networks.get(n)?.members.add(rec.id);
  }
  if (isObject(data.pub_key_idx)) {
    for (const [k, id] of Object.entries(data.pub_key_idx)) {
      const key = canonicalKey(k);
      if (key !== null && isId(id, MAX_NODE_ID) && !state.keyIndex.has(key)) state.indexKey(key, id);
    }
  }
  if (isObject(data.owner_idx)) {
    for (const [owner, id] of Object.entries(data.owner_idx)) {
      if (owner !== '' && isId(id, MAX_NODE_ID) && !state.ownerIndex.has(owner)) state.indexOwner(owner, id);
    }
  }
  for (const rec of state.nodes.values()) {
    if (rec.owner !== undefined && !state.ownerIndex.has(rec.owner)) state.indexOwner(rec.owner, rec.id);
  }
  if (isObject(data.node_owners)) {
    for (const [k, owner] of Object.entries(data.node_owners)) {
      const id = Number(k);
      if (isId(id, MAX_NODE_ID) && typeof owner === 'string' && owner !== '')
        state.recordDeadOwner(id, owner);
    }
  }
  if (Array.isArray(data.trust_pairs)) {
    for (const p of data.trust_pairs) {
      if (typeof p !== 'string') continue;
      const [a, b] = p.split(':').map(Number);
      if (isId(a, MAX_NODE_ID) && isId(b, MAX_NODE_ID)) state.addTrust(a, b);
    }
  }
  loadInboxes(state, data);
  let maxNode = 0;
  for (const id of state.nodes.keys()) maxNode = Math.max(maxNode, id);
  for (const id of state.keyIndex.values()) maxNode = Math.max(maxNode, id);
  let maxNet = 0;
  for (const id of state.networks.keys()) maxNet = Math.max(maxNet, id);
  const nextNode =
    typeof data.next_node === 'number' && Number.isInteger(data.next_node) ? data.next_node : 1;
  const nextNet = typeof data.next_net === 'number' && Number.isInteger(data.next_net) ? data.next_net : 1;
  state.setCounters(Math.max(nextNode, maxNode + 1), Math.max(nextNet, maxNet + 1));
  return { nodes: count, skipped };
}

function loadInboxes(state: RegistryState, data: Record<string, unknown>): void {
  const each = (v: unknown, fn: (id: number, list: unknown) => void): void => {
    if (!isObject(v)) return;
    for (const [k, list] of Object.entries(v)) {
      const id = Number(k);
      if (isId(id, MAX_NODE_ID)) fn(id, list);
    }
  };
  each(data.handshake_inbox, (id, l) =>
    state.setInbox(id, normalizeTimestamps(loadList<HandshakeRequestJson>(l, isRequest))),
  );
  each(data.handshake_responses, (id, l) =>
    state.setResponses(id, normalizeTimestamps(loadList<HandshakeResponseJson>(l, isResponse))),
  );
  each(data.network_invites, (id, l) =>
    state.setInvites(id, normalizeTimestamps(loadList<InviteJson>(l, isInvite))),
  );
}

// ---- replication changes -------------------------------------------------------------------------------------

/** The batch describing the entities recorded in `keys`, read from the current state. */
export function buildChanges(state: RegistryState, keys: ChangeKeys): ChangesJson {
  const c: ChangesJson = {};
  if (keys.nodes.size > 0) {
    c.nodes = dict();
    for (const id of keys.nodes) {
      const rec = state.node(id);
      c.nodes[String(id)] = rec?.toJson() ?? null;
      const owner = rec === undefined ? state.deadOwners.get(id) : undefined;
      if (owner !== undefined) (c.node_owners ??= dict())[String(id)] = owner;
    }
  }
  if (keys.networks.size > 0) {
    c.networks = dict();
    for (const id of keys.networks) {
      const net = state.networks.get(id);
      c.networks[String(id)] = net ? networkJson(net) : null;
    }
  }
  if (keys.keys.size > 0) {
    c.pub_key_idx = dict();
    for (const k of keys.keys) c.pub_key_idx[k] = state.keyIndex.get(k) ?? null;
  }
  if (keys.owners.size > 0) {
    c.owner_idx = dict();
    for (const o of keys.owners) c.owner_idx[o] = state.ownerIndex.get(o) ?? null;
  }
  if (keys.trust.length > 0) c.trust = keys.trust.map(([added, pair]) => [added ? '+' : '-', pair]);
  const lists = <T>(
    ids: Set<number>,
    map: ReadonlyMap<number, readonly T[]>,
  ): Record<string, T[]> | undefined => {
    if (ids.size === 0) return undefined;
    const out = dict<T[]>();
    for (const id of ids) out[String(id)] = [...(map.get(id) ?? [])];
    return out;
  };
  const inbox = lists(keys.inboxes, state.inboxes);
  if (inbox) c.handshake_inbox = inbox;
  const responses = lists(keys.responses, state.responseInboxes);
  if (responses) c.handshake_responses = responses;
  const invites = lists(keys.invites, state.inviteInboxes);
  if (invites) c.network_invites = invites;
  if (keys.counters) {
    c.next_node = state.nextNode;
    c.next_net = state.nextNet;
  }
  return c;
}

/** Apply a change batch received from a primary. */
export function applyChanges(state: RegistryState, c: ChangesJson): void {
  if (isObject(c.nodes)) {
    for (const [k, j] of Object.entries(c.nodes)) {
      if (j === null) {
        const rec: NodeRecord | undefined = state.node(Number(k));
        if (rec) state.removeNode(rec);
      } else {
        applyNodeJson(state, j, null);
      }
    }
  }
  if (isObject(c.node_owners)) {
    for (const [k, owner] of Object.entries(c.node_owners)) {
      const id = Number(k);
      if (isId(id, MAX_NODE_ID) && typeof owner === 'string' && owner !== '')
        state.recordDeadOwner(id, owner);
    }
  }
  if (isObject(c.networks)) for (const j of Object.values(c.networks)) if (j !== null) loadNetwork(state, j);
  if (isObject(c.pub_key_idx)) {
    for (const [key, id] of Object.entries(c.pub_key_idx)) {
      if (id === null) state.unindexKey(key);
      else if (isId(id, MAX_NODE_ID)) state.indexKey(key, id);
    }
  }
  if (isObject(c.owner_idx)) {
    for (const [owner, id] of Object.entries(c.owner_idx)) {
      state.indexOwner(owner, isId(id, MAX_NODE_ID) ? id : undefined);
    }
  }
  if (Array.isArray(c.trust)) {
    for (const op of c.trust) {
      if (!Array.isArray(op) || typeof op[1] !== 'string') continue;
      const [a, b] = op[1].split(':').map(Number);
      if (!isId(a, MAX_NODE_ID) || !isId(b, MAX_NODE_ID)) continue;
      if (op[0] === '+') state.addTrust(a, b);
      else state.removeTrust(a, b);
    }
  }
  loadInboxes(state, c as Record<string, unknown>);
  if (typeof c.next_node === 'number' || typeof c.next_net === 'number') {
    state.setCounters(c.next_node ?? state.nextNode, c.next_net ?? state.nextNet);
  }
}
