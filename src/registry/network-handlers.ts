/**
 * Networks beyond the backbone: list_networks, list_nodes, create_network (admin token), join_network and
 * leave_network with the join rules (open, token, invite), and the invite inbox (invite_to_network,
 * poll_invites, respond_invite). A valid `admin_token` authorises join/leave/invite on behalf of any node
 * without that node's signature; a wrong one is refused even when a signature is also present.
 */
import { RegistryRequestError } from './errors.js';
import {
  authNode,
  checkAdminToken,
  nodeAddress,
  requireNode,
  secretEquals,
  type Handler,
  type HandlerEnv,
} from './handler-context.js';
import type { NodeRecord } from './node-record.js';
import type { NetworkRecord } from './registry-state.js';
import type { JoinRule } from './snapshot-types.js';
import {
  networkNameProblem,
  optString,
  optUint32,
  reqBool,
  reqString,
  reqUint16,
  reqUint32,
  type RequestMessage,
} from './validation.js';

const JOIN_RULES: readonly JoinRule[] = ['open', 'token', 'invite'];

function requireNetwork(env: HandlerEnv, id: number): NetworkRecord {
  const net = env.state.networks.get(id);
  if (!net) throw new RegistryRequestError('ERR_REGISTRY_NOT_FOUND', `network ${id} not found`);
  return net;
}

/** The acting node: by admin token (no signature needed) or by its signature over `challenge`. */
function actor(
  env: HandlerEnv,
  msg: RequestMessage,
  challenge: (id: number) => string,
): { rec: NodeRecord; admin: boolean } {
  if (checkAdminToken(env, msg, false)) {
    return { rec: requireNode(env, reqUint32(msg, 'node_id')), admin: true };
  }
  return { rec: authNode(env, msg, 'node_id', challenge), admin: false };
}

export const listNetworks: Handler = (_msg, _ctx, env) => {
  const networks = [];
  for (const net of env.state.networks.values()) {
    networks.push({
      id: net.id,
      name: net.name,
      members: net.id === 0 ? env.state.nodes.size : net.members.size,
      join_rule: net.joinRule,
    });
  }
  return { networks };
};

export const listNodes: Handler = (msg, _ctx, env) => {
  const netId = reqUint16(msg, 'network_id');
  if (netId === 0) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_FORBIDDEN',
      'listing backbone nodes is not permitted (use lookup or resolve_hostname)',
    );
  }
  const net = requireNetwork(env, netId);
  const nodes = [];
  for (const id of net.members) {
    const rec = env.state.node(id);
    if (!rec) continue;
    const n: Record<string, unknown> = { node_id: id, address: nodeAddress(id) };
    if (rec.hostname !== undefined) n.hostname = rec.hostname;
    if (rec.taskExec) n.task_exec = true;
    if (rec.isPublic && rec.realAddr !== undefined) n.real_addr = rec.realAddr;
    nodes.push(n);
  }
  return { network_id: netId, nodes };
};

export const createNetwork: Handler = (msg, _ctx, env) => {
  const name = reqString(msg, 'name', 128);
  const rule = (optString(msg, 'join_rule', 16) || 'open') as JoinRule;
  const token = optString(msg, 'token', 256) || undefined;
  const creatorId = optUint32(msg, 'node_id');
  checkAdminToken(env, msg, true);
  if (!JOIN_RULES.includes(rule)) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_INVALID_FIELD',
      'field "join_rule" must be open, token or invite',
    );
  }
  const problem = networkNameProblem(name);
  if (problem !== null) throw new RegistryRequestError('ERR_REGISTRY_NETWORK_INVALID', problem);
  if (rule === 'token' && token === undefined) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_NETWORK_INVALID',
      'join_rule "token" needs a non-empty "token"',
    );
  }
  if (env.state.networkByName(name)) {
    throw new RegistryRequestError('ERR_REGISTRY_NETWORK_EXISTS', `network name "${name}" already exists`);
  }
  const creator = creatorId === undefined ? undefined : requireNode(env, creatorId);
  const id = env.state.allocNetworkId();
  if (id === null) throw new RegistryRequestError('ERR_REGISTRY_NETWORK_LIMIT', 'network ID space exhausted');
  const net: NetworkRecord = {
    id,
    name,
    joinRule: rule,
    token: rule === 'token' ? token : undefined,
    members: new Set(),
    created: new Date(env.state.nowSec() * 1000).toISOString(),
  };
  env.state.putNetwork(net);
  if (creator) env.state.addMember(net, creator);
  return { network_id: id, name, join_rule: rule };
};

export const joinNetwork: Handler = (msg, _ctx, env) => {
  const netId = reqUint16(msg, 'network_id');
  const token = optString(msg, 'token', 256);
  const { rec, admin } = actor(env, msg, (id) => `join_network:${id}:${netId}`);
  const net = requireNetwork(env, netId);
  if (netId === 0 || net.members.has(rec.id)) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_ALREADY_MEMBER',
      `node ${rec.id} is already in network ${netId}`,
    );
  }
  const invites = env.state.inviteInboxes.get(rec.id) ?? [];
  const invited = invites.some((i) => i.network_id === netId);
  if (!admin) {
    if (net.joinRule === 'token' && (token === undefined || !secretEquals(token, net.token ?? ''))) {
      throw new RegistryRequestError('ERR_REGISTRY_JOIN_DENIED', `invalid token for network ${netId}`);
    }
    if (net.joinRule === 'invite' && !invited) {
      throw new RegistryRequestError('ERR_REGISTRY_JOIN_DENIED', `network ${netId} is invite-only`);
    }
  }
  env.state.addMember(net, rec);
  if (invited)
    env.state.setInvites(
      rec.id,
      invites.filter((i) => i.network_id !== netId),
    );
  return { network_id: netId, node_id: rec.id };
};

export const leaveNetwork: Handler = (msg, _ctx, env) => {
  const netId = reqUint16(msg, 'network_id');
  const { rec } = actor(env, msg, (id) => `leave_network:${id}:${netId}`);
  if (netId === 0)
    throw new RegistryRequestError('ERR_REGISTRY_FORBIDDEN', 'cannot leave the backbone network');
  const net = requireNetwork(env, netId);
  if (!net.members.has(rec.id)) {
    throw new RegistryRequestError('ERR_REGISTRY_NOT_MEMBER', `node ${rec.id} is not in network ${netId}`);
  }
  env.state.removeMember(net, rec);
  return { network_id: netId, node_id: rec.id };
};

export const inviteToNetwork: Handler = (msg, _ctx, env) => {
  const netId = reqUint16(msg, 'network_id');
  const targetId = reqUint32(msg, 'target_id');
  let inviterId = 0;
  if (!checkAdminToken(env, msg, false)) {
    const inviter = authNode(env, msg, 'node_id', (id) => `invite:${id}:${netId}:${targetId}`);
    inviterId = inviter.id;
  }
  if (netId === 0) throw new RegistryRequestError('ERR_REGISTRY_FORBIDDEN', 'every node is in the backbone');
  const net = requireNetwork(env, netId);
  if (inviterId !== 0 && !net.members.has(inviterId)) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_FORBIDDEN',
      `node ${inviterId} is not a member of network ${netId}`,
    );
  }
  const target = requireNode(env, targetId, 'target node');
  if (net.members.has(target.id)) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_ALREADY_MEMBER',
      `node ${target.id} is already in network ${netId}`,
    );
  }
  const list = (env.state.inviteInboxes.get(target.id) ?? []).filter((i) => i.network_id !== netId);
  if (list.length >= env.settings.inviteInboxLimit) {
    throw new RegistryRequestError('ERR_REGISTRY_INBOX_FULL', `invite inbox of node ${target.id} is full`);
  }
  list.push({ network_id: netId, inviter_id: inviterId, timestamp: env.state.nowSec() });
  env.state.setInvites(target.id, list);
  return { network_id: netId, target_id: target.id, status: 'invited' };
};

export const pollInvites: Handler = (msg, _ctx, env) => {
  const rec = authNode(env, msg, 'node_id', (id) => `poll_invites:${id}`);
  const invites = (env.state.inviteInboxes.get(rec.id) ?? []).map((i) => ({
    ...i,
    name: env.state.networks.get(i.network_id)?.name ?? '',
  }));
  return { invites };
};

export const respondInvite: Handler = (msg, _ctx, env) => {
  const netId = reqUint16(msg, 'network_id');
  const accept = reqBool(msg, 'accept');
  const rec = authNode(env, msg, 'node_id', (id) => `respond_invite:${id}:${netId}`);
  const invites = env.state.inviteInboxes.get(rec.id) ?? [];
  if (!invites.some((i) => i.network_id === netId)) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_NOT_FOUND',
      `no invite to network ${netId} for node ${rec.id}`,
    );
  }
  const net = accept ? requireNetwork(env, netId) : undefined;
  env.state.setInvites(
    rec.id,
    invites.filter((i) => i.network_id !== netId),
  );
  if (net) env.state.addMember(net, rec);
  return { network_id: netId, accept };
};
