/**
 * Handlers for a node's own record: register, lookup, resolve, heartbeat, deregister, visibility, hostname,
 * tags, task_exec, key rotation, punch and the polo score. Each one validates every field, checks the
 * signature and only then changes state, so a refused request changes nothing.
 */
import { MAX_OWNER_LENGTH } from './constants.js';
import { RegistryRequestError } from './errors.js';
import {
  authNode,
  canSee,
  denied,
  nodeAddress,
  requireNode,
  type Handler,
  type HandlerEnv,
} from './handler-context.js';
import type { NodeRecord } from './node-record.js';
import {
  canonicalPublicKey,
  formatHostPort,
  hostnameProblem,
  normalizeTags,
  optString,
  reqBool,
  reqSafeInt,
  reqString,
  reqStringArray,
  reqUint32,
  splitHostPort,
} from './validation.js';

/** Longest hostname text accepted before validation (longer is refused as invalid anyway). */
const HOSTNAME_FIELD_MAX = 253;

function hostnameTaken(name: string, holder: number): RegistryRequestError {
  return new RegistryRequestError(
    'ERR_REGISTRY_HOSTNAME_TAKEN',
    `hostname "${name}" already in use by node ${holder}`,
  );
}

/** Drop every key-index entry that still points at `id` except `keep` (owner-based key recovery). */
function dropOtherKeys(env: HandlerEnv, id: number, keep: string): void {
  const stale: string[] = [];
  for (const [key, owner] of env.state.keyIndex) if (owner === id && key !== keep) stale.push(key);
  for (const key of stale) {
    env.state.unindexKey(key);
    env.verifier.forgetKey(key);
  }
}

export const register: Handler = (msg, ctx, env) => {
  const { state } = env;
  const key = canonicalPublicKey(reqString(msg, 'public_key', 128), 'public_key');
  const listenAddr = optString(msg, 'listen_addr', 300);
  const owner = optString(msg, 'owner', MAX_OWNER_LENGTH) || undefined;
  const hostname = optString(msg, 'hostname', HOSTNAME_FIELD_MAX) || undefined;
  let realAddr: string | undefined;
  if (listenAddr !== undefined && listenAddr !== '') {
    const hp = splitHostPort(listenAddr);
    if (!hp) {
      throw new RegistryRequestError('ERR_REGISTRY_INVALID_FIELD', 'field "listen_addr" must be host:port');
    }
    realAddr = formatHostPort(ctx.remoteIp, hp.port);
  }

  let knownId = state.keyIndex.get(key);
  const current = knownId === undefined ? undefined : state.node(knownId);
  if (current !== undefined && current.publicKey !== key) knownId = undefined; // superseded mapping
  if (knownId === undefined && env.limiter !== null && !env.limiter.allow(ctx.remoteIp)) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_RATE_LIMITED',
      `registration rate limit exceeded for ${ctx.remoteIp}; retry later`,
    );
  }
  let recoverId: number | undefined;
  if (knownId === undefined && owner !== undefined) {
    const ownerId = state.idForOwner(owner);
    // Key recovery only for an owner whose node is not currently registered (no takeover of a live node).
    if (ownerId !== undefined && state.node(ownerId) === undefined) recoverId = ownerId;
  }
  let newId: number | undefined;
  if (knownId === undefined && recoverId === undefined) {
    const id = state.allocNodeId();
    if (id === null) throw new RegistryRequestError('ERR_REGISTRY_INTERNAL', 'node ID space exhausted');
    newId = id;
  }

  // Validation is complete: apply.
  let rec: NodeRecord;
  if (knownId !== undefined) {
    rec = state.node(knownId) ?? state.createNode(knownId, key);
  } else if (recoverId !== undefined) {
    rec = state.createNode(recoverId, key);
    dropOtherKeys(env, recoverId, key);
  } else {
    rec = state.createNode(newId as number, key);
  }
  if (owner !== undefined) {
    // register is unauthenticated and public keys are public: an owner once recorded for a node ID is never
    // replaced by another (else anyone could plant their own owner string and take the ID over by "key recovery"
    // once the node goes away, or grow the owner index without bound with one known key).
    const held = rec.owner ?? state.ownerOf(rec.id);
    if (held !== undefined && held !== owner) {
      if (rec.owner === undefined) state.setOwner(rec, held, false);
    } else {
      const ownerId = state.idForOwner(owner);
      state.setOwner(rec, owner, ownerId === undefined || state.node(ownerId) === undefined);
    }
  }
  if (realAddr !== undefined && rec.realAddr !== realAddr) state.edit(rec).realAddr = realAddr;
  rec.lastSeen = state.nowSec();

  const out: Record<string, unknown> = {
    node_id: rec.id,
    network_id: 0,
    address: nodeAddress(rec.id),
    public_key: key,
  };
  if (hostname !== undefined) {
    const problem = hostnameProblem(hostname);
    const holder = state.idForHostname(hostname);
    if (problem !== null) out.hostname_error = problem;
    else if (holder !== undefined && holder !== rec.id)
      out.hostname_error = hostnameTaken(hostname, holder).message;
    else state.setHostname(rec, hostname);
  }
  if (rec.hostname !== undefined) out.hostname = rec.hostname;
  return out;
};

export const lookup: Handler = (msg, _ctx, env) => {
  const rec = requireNode(env, reqUint32(msg, 'node_id'));
  const out: Record<string, unknown> = {
    node_id: rec.id,
    address: nodeAddress(rec.id),
    networks: rec.networkList(),
    public_key: rec.publicKey,
    public: rec.isPublic,
    polo_score: rec.poloScore,
  };
  if (rec.hostname !== undefined) out.hostname = rec.hostname;
  if (rec.tags !== undefined) out.tags = rec.tags;
  if (rec.taskExec) out.task_exec = true;
  if (rec.isPublic && rec.realAddr !== undefined) out.real_addr = rec.realAddr;
  return out;
};

export const resolve: Handler = (msg, _ctx, env) => {
  const targetId = reqUint32(msg, 'node_id');
  const requester = authNode(env, msg, 'requester_id', (r) => `resolve:${r}:${targetId}`, 'requester');
  const target = requireNode(env, targetId);
  if (!canSee(env, requester, target)) throw denied(target);
  return { node_id: target.id, real_addr: target.realAddr ?? '' };
};

export const heartbeat: Handler = (msg, _ctx, env) => {
  const rec = authNode(env, msg, 'node_id', (id) => `heartbeat:${id}`);
  const now = env.state.nowSec();
  rec.lastSeen = now; // liveness is soft state: not persisted per heartbeat (see docs/registry.md)
  return { node_id: rec.id, time: now };
};

export const deregister: Handler = (msg, _ctx, env) => {
  const id = reqUint32(msg, 'node_id');
  const rec = env.state.node(id);
  if (rec === undefined) return { node_id: id };
  env.verifier.check(rec.publicKey, `deregister:${id}`, msg.signature);
  env.state.removeNode(rec);
  return { node_id: id };
};

export const setVisibility: Handler = (msg, _ctx, env) => {
  const isPublic = reqBool(msg, 'public');
  const rec = authNode(env, msg, 'node_id', (id) => `set_visibility:${id}`);
  if (rec.isPublic !== isPublic) env.state.edit(rec).isPublic = isPublic;
  return { node_id: rec.id, visibility: isPublic ? 'public' : 'private' };
};

export const setHostname: Handler = (msg, _ctx, env) => {
  const name = reqString(msg, 'hostname', HOSTNAME_FIELD_MAX);
  const rec = authNode(env, msg, 'node_id', (id) => `set_hostname:${id}`);
  if (name === '') {
    env.state.setHostname(rec, undefined);
    return { node_id: rec.id, hostname: '' };
  }
  const problem = hostnameProblem(name);
  if (problem !== null) throw new RegistryRequestError('ERR_REGISTRY_HOSTNAME_INVALID', problem);
  const holder = env.state.idForHostname(name);
  if (holder !== undefined && holder !== rec.id) throw hostnameTaken(name, holder);
  env.state.setHostname(rec, name);
  return { node_id: rec.id, hostname: name };
};

export const resolveHostname: Handler = (msg, _ctx, env) => {
  const name = reqString(msg, 'hostname', HOSTNAME_FIELD_MAX);
  const id = env.state.idForHostname(name);
  const rec = id === undefined ? undefined : env.state.node(id);
  if (rec === undefined)
    throw new RegistryRequestError('ERR_REGISTRY_NOT_FOUND', `hostname "${name}" not found`);
  return { node_id: rec.id, address: nodeAddress(rec.id), public: rec.isPublic, hostname: name };
};

export const setTags: Handler = (msg, _ctx, env) => {
  const tags = normalizeTags(reqStringArray(msg, 'tags', 1000, 64));
  const rec = authNode(env, msg, 'node_id', (id) => `set_tags:${id}`);
  env.state.edit(rec).tags = tags.length > 0 ? tags : undefined;
  return { node_id: rec.id, tags };
};

export const setTaskExec: Handler = (msg, _ctx, env) => {
  const enabled = reqBool(msg, 'enabled');
  const rec = authNode(env, msg, 'node_id', (id) => `set_task_exec:${id}`);
  if (rec.taskExec !== enabled) env.state.edit(rec).taskExec = enabled;
  return { node_id: rec.id, task_exec: enabled };
};

export const rotateKey: Handler = (msg, _ctx, env) => {
  const newKey = canonicalPublicKey(reqString(msg, 'new_public_key', 128), 'new_public_key');
  const rec = authNode(env, msg, 'node_id', (id) => `rotate:${id}`);
  const holder = env.state.keyIndex.get(newKey);
  if (holder !== undefined && holder !== rec.id) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_KEY_IN_USE',
      `public key already registered to node ${holder}`,
    );
  }
  const oldKey = rec.publicKey;
  env.state.setKey(rec, newKey);
  env.verifier.forgetKey(oldKey);
  return { node_id: rec.id, address: nodeAddress(rec.id), public_key: newKey };
};

export const punch: Handler = (msg, _ctx, env) => {
  const requesterId = reqUint32(msg, 'requester_id');
  const a = reqUint32(msg, 'node_a');
  const b = reqUint32(msg, 'node_b');
  if (requesterId !== a && requesterId !== b) {
    throw new RegistryRequestError('ERR_REGISTRY_FORBIDDEN', 'punch: requester must be node_a or node_b');
  }
  const requester = authNode(env, msg, 'requester_id', () => `punch:${a}:${b}`, 'requester');
  const nodeA = requireNode(env, a);
  const nodeB = requireNode(env, b);
  const other = requesterId === a ? nodeB : nodeA;
  if (!canSee(env, requester, other)) throw denied(other);
  return { node_a: a, node_a_addr: nodeA.realAddr ?? '', node_b: b, node_b_addr: nodeB.realAddr ?? '' };
};

function poloAnswer(rec: NodeRecord): Record<string, unknown> {
  return { node_id: rec.id, address: nodeAddress(rec.id), polo_score: rec.poloScore };
}

export const updatePoloScore: Handler = (msg, _ctx, env) => {
  const delta = reqSafeInt(msg, 'delta');
  const rec = requireNode(env, reqUint32(msg, 'node_id'));
  const next = Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, rec.poloScore + delta));
  if (next !== rec.poloScore) env.state.edit(rec).poloScore = next;
  return poloAnswer(rec);
};

export const setPoloScore: Handler = (msg, _ctx, env) => {
  const score = reqSafeInt(msg, 'polo_score');
  const rec = requireNode(env, reqUint32(msg, 'node_id'));
  if (score !== rec.poloScore) env.state.edit(rec).poloScore = score;
  return poloAnswer(rec);
};

export const getPoloScore: Handler = (msg, _ctx, env) =>
  poloAnswer(requireNode(env, reqUint32(msg, 'node_id')));
