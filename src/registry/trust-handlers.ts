/**
 * Trust pairs and the handshake relay inbox: report_trust, revoke_trust, request_handshake, poll_handshakes,
 * respond_handshake. Trust pairs and inboxes are identity-level data: they survive deregistration and reaping.
 */
import { MAX_JUSTIFICATION_LENGTH } from './constants.js';
import { RegistryRequestError } from './errors.js';
import { authNode, requireNode, type Handler } from './handler-context.js';
import type { HandshakeResponseJson } from './snapshot-types.js';
import { optString, reqBool, reqUint32 } from './validation.js';

function notSelf(a: number, b: number, what: string): void {
  if (a === b)
    throw new RegistryRequestError('ERR_REGISTRY_INVALID_FIELD', `${what}: a node cannot pair with itself`);
}

export const reportTrust: Handler = (msg, _ctx, env) => {
  const peerId = reqUint32(msg, 'peer_id');
  const rec = authNode(env, msg, 'node_id', (id) => `report_trust:${id}:${peerId}`);
  notSelf(rec.id, peerId, 'report_trust');
  requireNode(env, peerId, 'peer');
  env.state.addTrust(rec.id, peerId);
  return { node_id: rec.id, peer_id: peerId };
};

export const revokeTrust: Handler = (msg, _ctx, env) => {
  const peerId = reqUint32(msg, 'peer_id');
  const rec = authNode(env, msg, 'node_id', (id) => `revoke_trust:${id}:${peerId}`);
  if (!env.state.hasTrust(rec.id, peerId)) {
    throw new RegistryRequestError('ERR_REGISTRY_NO_TRUST', `no trust pair between ${rec.id} and ${peerId}`);
  }
  env.state.removeTrust(rec.id, peerId);
  return { node_id: rec.id, peer_id: peerId };
};

export const requestHandshake: Handler = (msg, _ctx, env) => {
  const toId = reqUint32(msg, 'to_node_id');
  const justification = optString(msg, 'justification', MAX_JUSTIFICATION_LENGTH) ?? '';
  const from = authNode(env, msg, 'from_node_id', (id) => `handshake:${id}:${toId}`);
  notSelf(from.id, toId, 'request_handshake');
  requireNode(env, toId, 'target node');
  const inbox = (env.state.inboxes.get(toId) ?? []).filter((r) => r.from_node_id !== from.id);
  if (inbox.length >= env.settings.handshakeInboxLimit) {
    throw new RegistryRequestError('ERR_REGISTRY_INBOX_FULL', `handshake inbox of node ${toId} is full`);
  }
  inbox.push({ from_node_id: from.id, justification, timestamp: env.state.nowSec() });
  env.state.setInbox(toId, inbox);
  return { status: 'delivered' };
};

export const pollHandshakes: Handler = (msg, _ctx, env) => {
  const rec = authNode(env, msg, 'node_id', (id) => `poll_handshakes:${id}`);
  const requests = [...(env.state.inboxes.get(rec.id) ?? [])];
  const responses = [...(env.state.responseInboxes.get(rec.id) ?? [])];
  if (requests.length > 0) env.state.setInbox(rec.id, []);
  if (responses.length > 0) env.state.setResponses(rec.id, []);
  return { requests, responses };
};

export const respondHandshake: Handler = (msg, _ctx, env) => {
  const peerId = reqUint32(msg, 'peer_id');
  const accept = reqBool(msg, 'accept');
  const rec = authNode(env, msg, 'node_id', (id) => `respond:${id}:${peerId}`);
  notSelf(rec.id, peerId, 'respond_handshake');
  if (!env.state.isKnownId(peerId)) {
    throw new RegistryRequestError('ERR_REGISTRY_NOT_FOUND', `peer ${peerId} not found`);
  }
  const responses: HandshakeResponseJson[] = (env.state.responseInboxes.get(peerId) ?? []).filter(
    (r) => r.from_node_id !== rec.id,
  );
  if (responses.length >= env.settings.handshakeInboxLimit) {
    throw new RegistryRequestError(
      'ERR_REGISTRY_INBOX_FULL',
      `handshake response inbox of node ${peerId} is full`,
    );
  }
  if (accept) env.state.addTrust(rec.id, peerId);
  responses.push({ from_node_id: rec.id, accept, timestamp: env.state.nowSec() });
  env.state.setResponses(peerId, responses);
  const own = env.state.inboxes.get(rec.id);
  if (own?.some((r) => r.from_node_id === peerId)) {
    env.state.setInbox(
      rec.id,
      own.filter((r) => r.from_node_id !== peerId),
    );
  }
  return { accept, peer_id: peerId };
};
