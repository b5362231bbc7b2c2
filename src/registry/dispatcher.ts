/**
 * Request dispatch: JSON parsing, the message-type table, standby write refusal, and turning handler results and
 * errors into answer text. Synchronous, so answers leave in request order. `subscribe_replication` is not
 * handled here: the connection switches mode for it (see server.ts).
 */
import { RegistryRequestError, type RegistryWireErrorCode } from './errors.js';
import type { Handler, HandlerEnv, RequestContext } from './handler-context.js';
import * as nodes from './node-handlers.js';
import * as networks from './network-handlers.js';
import * as trust from './trust-handlers.js';
import { reqString, reqUint32, splitHostPort, type RequestMessage } from './validation.js';

interface Route {
  readonly handler: Handler;
  /** Refused on a standby. */
  readonly write: boolean;
}

const beaconRegister: Handler = (msg, _ctx, env) => {
  const id = reqUint32(msg, 'beacon_id');
  const addr = reqString(msg, 'addr', 300);
  if (id === 0)
    throw new RegistryRequestError('ERR_REGISTRY_INVALID_FIELD', 'field "beacon_id" must not be 0');
  if (!splitHostPort(addr))
    throw new RegistryRequestError('ERR_REGISTRY_INVALID_FIELD', 'field "addr" must be host:port');
  if (!env.beacons.register(id, addr)) {
    // Unauthenticated input: the table is capped so pipelined registrations cannot grow it without bound.
    throw new RegistryRequestError('ERR_REGISTRY_BUSY', 'beacon table full; retry later');
  }
  return { beacon_id: id };
};

const beaconList: Handler = (_msg, _ctx, env) => ({ beacons: env.beacons.list() });

const w = (handler: Handler): Route => ({ handler, write: true });
const r = (handler: Handler): Route => ({ handler, write: false });

/** Every request type and whether a standby refuses it. */
const ROUTES = new Map<string, Route>([
  ['register', w(nodes.register)],
  ['lookup', r(nodes.lookup)],
  ['resolve', r(nodes.resolve)],
  ['heartbeat', r(nodes.heartbeat)],
  ['deregister', w(nodes.deregister)],
  ['set_visibility', w(nodes.setVisibility)],
  ['set_hostname', w(nodes.setHostname)],
  ['resolve_hostname', r(nodes.resolveHostname)],
  ['set_tags', w(nodes.setTags)],
  ['set_task_exec', w(nodes.setTaskExec)],
  ['rotate_key', w(nodes.rotateKey)],
  ['punch', w(nodes.punch)],
  ['update_polo_score', w(nodes.updatePoloScore)],
  ['set_polo_score', w(nodes.setPoloScore)],
  ['get_polo_score', r(nodes.getPoloScore)],
  ['report_trust', w(trust.reportTrust)],
  ['revoke_trust', w(trust.revokeTrust)],
  ['request_handshake', w(trust.requestHandshake)],
  ['poll_handshakes', r(trust.pollHandshakes)],
  ['respond_handshake', w(trust.respondHandshake)],
  ['list_networks', r(networks.listNetworks)],
  ['list_nodes', r(networks.listNodes)],
  ['create_network', w(networks.createNetwork)],
  ['join_network', w(networks.joinNetwork)],
  ['leave_network', w(networks.leaveNetwork)],
  ['invite_to_network', w(networks.inviteToNetwork)],
  ['poll_invites', r(networks.pollInvites)],
  ['respond_invite', w(networks.respondInvite)],
  ['beacon_register', w(beaconRegister)],
  ['beacon_list', r(beaconList)],
]);

/** The request types the server answers (besides subscribe_replication). */
export const REQUEST_TYPES: readonly string[] = [...ROUTES.keys()];

/** Codes that count as protocol misuse (a connection causing too many of them is closed). */
const PROTOCOL_CODES = new Set<RegistryWireErrorCode>([
  'ERR_REGISTRY_BAD_REQUEST',
  'ERR_REGISTRY_UNKNOWN_TYPE',
  'ERR_REGISTRY_INVALID_FIELD',
]);

export type DispatchResult =
  | { readonly kind: 'answer'; readonly text: string; readonly protocolError: boolean }
  | { readonly kind: 'subscribe'; readonly msg: RequestMessage };

/** The error answer's JSON text. */
export function errorText(code: RegistryWireErrorCode, message: string): string {
  return JSON.stringify({ type: 'error', error: message, code });
}

function errorAnswer(code: RegistryWireErrorCode, message: string): DispatchResult {
  return { kind: 'answer', text: errorText(code, message), protocolError: PROTOCOL_CODES.has(code) };
}

export interface DispatcherStats {
  requests: number;
  errors: number;
  byType: Map<string, number>;
}

export class Dispatcher {
  readonly #env: HandlerEnv;
  readonly #isStandby: () => boolean;
  readonly #stats: DispatcherStats = { requests: 0, errors: 0, byType: new Map() };

  constructor(env: HandlerEnv, isStandby: () => boolean) {
    this.#env = env;
    this.#isStandby = isStandby;
  }

  get stats(): Readonly<DispatcherStats> {
    return this.#stats;
  }

  /** Handle one frame's payload. Never throws. */
  dispatch(payload: Buffer, ctx: RequestContext): DispatchResult {
    this.#stats.requests++;
    let msg: unknown;
    try {
      msg = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.#fail('ERR_REGISTRY_BAD_REQUEST', 'malformed JSON');
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return this.#fail('ERR_REGISTRY_BAD_REQUEST', 'request must be a JSON object');
    }
    const req = msg as RequestMessage;
    const type = req.type;
    if (typeof type !== 'string')
      return this.#fail('ERR_REGISTRY_BAD_REQUEST', 'request has no string "type"');
    if (type === 'subscribe_replication') return { kind: 'subscribe', msg: req };
    const route = ROUTES.get(type);
    if (route === undefined) {
      return this.#fail('ERR_REGISTRY_UNKNOWN_TYPE', `unknown message type "${type.slice(0, 64)}"`);
    }
    this.#stats.byType.set(type, (this.#stats.byType.get(type) ?? 0) + 1);
    if (route.write && this.#isStandby()) {
      return this.#fail('ERR_REGISTRY_STANDBY', 'standby mode: write operations not accepted (use primary)');
    }
    try {
      const fields = route.handler(req, ctx, this.#env);
      return {
        kind: 'answer',
        text: JSON.stringify(Object.assign({ type: `${type}_ok` }, fields)),
        protocolError: false,
      };
    } catch (err) {
      if (err instanceof RegistryRequestError) return this.#fail(err.code, err.message);
      this.#env.logger.error({ err, type }, 'registry handler failed');
      return this.#fail('ERR_REGISTRY_INTERNAL', `internal error handling "${type}"`);
    }
  }

  #fail(code: RegistryWireErrorCode, message: string): DispatchResult {
    this.#stats.errors++;
    return errorAnswer(code, message);
  }
}
