/**
 * RegistryClient: typed calls for every registry message, over one pipelined connection with reconnect,
 * backoff, deadlines and AbortSignal support (client-transport.ts). Signed requests use the `signer` (any object
 * with `sign(message)`, e.g. a coreapi Identity) over the reference's challenge strings. Answers are the wire JSON
 * objects (client-messages.ts); failures are typed errors (errors.ts).
 */
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../coreapi/logger.js';
import type * as M from './client-messages.js';
import * as C from './constants.js';
import { ClientTransport, type TransportState } from './client-transport.js';
import type { RegistryTlsOptions } from './dial.js';
import { RegistryError, RegistryRemoteError } from './errors.js';
import { splitHostPort } from './validation.js';

/** Signs registry challenges; structurally compatible with coreapi `Identity`. */
export interface RegistrySigner {
  /** The node's ID when known (0 or absent until registered: the client then uses the ID from `register`). */
  readonly nodeId?: number;
  /** Raw 32-byte Ed25519 public key (used by `register` when no key is given). */
  readonly publicKey?: Uint8Array;
  sign(message: Uint8Array): Buffer;
}

export interface RegistryClientOptions {
  /** `host:port` of the registry (or host/port). */
  addr?: string;
  host?: string;
  port?: number;
  /** TLS; pin the server's certificate with `{ fingerprint }`. */
  tls?: RegistryTlsOptions | boolean;
  signer?: RegistrySigner;
  /** Default deadline per request (15 s). */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  reconnectAttempts?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Largest answer accepted (default 64 MiB). */
  maxMessageBytes?: number;
  logger?: Logger;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Signed calls may name the acting node explicitly (default: the client's node ID). */
export interface NodeCallOptions extends CallOptions {
  nodeId?: number;
}

/**
 * Request types that must not be repeated after a broken connection. A repeated `rotate_key` is signed with the
 * key the first attempt may already have replaced; `rotateKey()` checks the outcome with a lookup instead.
 */
const NOT_RETRIABLE = new Set(['update_polo_score', 'create_network', 'poll_handshakes', 'rotate_key']);

/** Failures after which a request may or may not have been applied by the registry. */
const OUTCOME_UNKNOWN = new Set<string>(['ERR_REGISTRY_CONNECTION', 'ERR_REGISTRY_TIMEOUT']);

/**
 * A request repeated after a broken connection may find its own first attempt applied: then the registry's
 * "already so" answer (`code`) means the call did what was asked, and `answer` stands in for the lost one.
 */
function alreadyDone<T>(call: Promise<T>, code: string, answer: () => T): Promise<T> {
  return call.catch((err: unknown) => {
    if (err instanceof RegistryRemoteError && err.repeated && err.code === code) return answer();
    throw err;
  });
}

export class RegistryClient extends EventEmitter {
  readonly #transport: ClientTransport;
  readonly #timeoutMs: number;
  #signer: RegistrySigner | undefined;
  #registeredId = 0;

  constructor(options: RegistryClientOptions) {
    super();
    let host = options.host;
    let port = options.port ?? C.DEFAULT_REGISTRY_PORT;
    if (options.addr !== undefined) {
      const hp = splitHostPort(options.addr);
      if (!hp)
        throw new RegistryError(
          'ERR_REGISTRY_CONFIG',
          `registry address "${options.addr}" must be host:port`,
        );
      host = hp.host;
      port = hp.port;
    }
    this.#signer = options.signer;
    this.#timeoutMs = options.timeoutMs ?? C.CLIENT_DEFAULT_TIMEOUT_MS;
    this.#transport = new ClientTransport({
      host: host || '127.0.0.1',
      port,
      tls: options.tls,
      connectTimeoutMs: options.connectTimeoutMs ?? C.CLIENT_CONNECT_TIMEOUT_MS,
      reconnectAttempts: options.reconnectAttempts ?? C.CLIENT_RECONNECT_ATTEMPTS,
      backoffInitialMs: options.backoffInitialMs ?? C.CLIENT_BACKOFF_INITIAL_MS,
      backoffMaxMs: options.backoffMaxMs ?? C.CLIENT_BACKOFF_MAX_MS,
      maxMessageBytes: options.maxMessageBytes ?? 64 * 1024 * 1024,
      logger: options.logger ?? silentLogger,
    });
    this.#transport.on('connect', () => this.emit('connect'));
    this.#transport.on('disconnect', () => this.emit('disconnect'));
  }

  /** The acting node ID: the signer's when set, else the one `register` returned, else 0. */
  get nodeId(): number {
    return this.#signer?.nodeId || this.#registeredId;
  }

  get signer(): RegistrySigner | undefined {
    return this.#signer;
  }

  set signer(s: RegistrySigner | undefined) {
    this.#signer = s;
  }

  get connectionState(): TransportState {
    return this.#transport.status;
  }

  /** Send any request object (`type` required); resolves with the `<type>_ok` answer. */
  request<T extends M.RegistryAnswer = M.RegistryAnswer>(
    msg: Record<string, unknown> & { type: string },
    opts: CallOptions = {},
  ): Promise<T> {
    return this.#transport.send(msg, {
      timeoutMs: opts.timeoutMs ?? this.#timeoutMs,
      signal: opts.signal,
      retriable: !NOT_RETRIABLE.has(msg.type),
    }) as Promise<unknown> as Promise<T>;
  }

  /** Fail pending requests and close the connection. */
  close(): void {
    this.#transport.close();
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  #actor(opts: NodeCallOptions): number {
    const id = opts.nodeId ?? this.nodeId;
    if (!id) throw new RegistryError('ERR_REGISTRY_NO_SIGNER', 'no node ID: register first or pass nodeId');
    return id;
  }

  #sign(challenge: string): string {
    if (!this.#signer)
      throw new RegistryError('ERR_REGISTRY_NO_SIGNER', 'this request must be signed: no signer');
    return this.#signer.sign(Buffer.from(challenge, 'utf8')).toString('base64');
  }

  /** Build and send a request signed by the acting node. */
  #signed<T extends M.RegistryAnswer>(
    type: string,
    opts: NodeCallOptions,
    challenge: (id: number) => string,
    fields: (id: number) => Record<string, unknown>,
  ): Promise<T> {
    try {
      const id = this.#actor(opts);
      return this.request<T>({ type, ...fields(id), signature: this.#sign(challenge(id)) }, opts);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  // ---- nodes -------------------------------------------------------------------------------------------------

  /** Register (or re-register) the signer's key; remembers the node ID. */
  async register(
    opts: CallOptions & {
      publicKey?: Uint8Array;
      listenAddr?: string;
      owner?: string;
      hostname?: string;
    } = {},
  ): Promise<M.RegisterAnswer> {
    const key = opts.publicKey ?? this.#signer?.publicKey;
    if (!key)
      throw new RegistryError('ERR_REGISTRY_NO_SIGNER', 'register needs a public key (option or signer)');
    const msg: Record<string, unknown> & { type: string } = {
      type: 'register',
      public_key: Buffer.from(key).toString('base64'),
    };
    if (opts.listenAddr !== undefined) msg.listen_addr = opts.listenAddr;
    if (opts.owner !== undefined) msg.owner = opts.owner;
    if (opts.hostname !== undefined) msg.hostname = opts.hostname;
    const answer = await this.request<M.RegisterAnswer>(msg, opts);
    this.#registeredId = answer.node_id;
    return answer;
  }

  lookup(nodeId: number, opts: CallOptions = {}): Promise<M.LookupAnswer> {
    return this.request({ type: 'lookup', node_id: nodeId }, opts);
  }

  /** Signed resolve of `nodeId`'s endpoint by the acting node (`opts.nodeId` = requester). */
  resolve(nodeId: number, opts: NodeCallOptions = {}): Promise<M.ResolveAnswer> {
    return this.#signed(
      'resolve',
      opts,
      (r) => `resolve:${r}:${nodeId}`,
      (r) => ({ node_id: nodeId, requester_id: r }),
    );
  }

  heartbeat(opts: NodeCallOptions = {}): Promise<M.HeartbeatAnswer> {
    return this.#signed(
      'heartbeat',
      opts,
      (id) => `heartbeat:${id}`,
      (id) => ({ node_id: id }),
    );
  }

  deregister(opts: NodeCallOptions = {}): Promise<M.NodeIdAnswer> {
    return this.#signed(
      'deregister',
      opts,
      (id) => `deregister:${id}`,
      (id) => ({ node_id: id }),
    );
  }

  setVisibility(isPublic: boolean, opts: NodeCallOptions = {}): Promise<M.VisibilityAnswer> {
    return this.#signed(
      'set_visibility',
      opts,
      (id) => `set_visibility:${id}`,
      (id) => ({ node_id: id, public: isPublic }),
    );
  }

  /** Set (or with "" clear) the hostname. */
  setHostname(hostname: string, opts: NodeCallOptions = {}): Promise<M.HostnameAnswer> {
    return this.#signed(
      'set_hostname',
      opts,
      (id) => `set_hostname:${id}`,
      (id) => ({ node_id: id, hostname }),
    );
  }

  resolveHostname(hostname: string, opts: CallOptions = {}): Promise<M.ResolveHostnameAnswer> {
    return this.request({ type: 'resolve_hostname', hostname }, opts);
  }

  setTags(tags: string[], opts: NodeCallOptions = {}): Promise<M.TagsAnswer> {
    return this.#signed(
      'set_tags',
      opts,
      (id) => `set_tags:${id}`,
      (id) => ({ node_id: id, tags }),
    );
  }

  setTaskExec(enabled: boolean, opts: NodeCallOptions = {}): Promise<M.TaskExecAnswer> {
    return this.#signed(
      'set_task_exec',
      opts,
      (id) => `set_task_exec:${id}`,
      (id) => ({ node_id: id, enabled }),
    );
  }

  /**
   * Rotate to `newPublicKey` (signed with the current key); `newSigner` replaces the signer on success. When the
   * connection breaks or the deadline passes before the answer arrived, a lookup tells whether the registry
   * applied the rotation.
   */
  async rotateKey(
    newPublicKey: Uint8Array,
    opts: NodeCallOptions & { newSigner?: RegistrySigner } = {},
  ): Promise<M.RotateKeyAnswer> {
    const newKey = Buffer.from(newPublicKey).toString('base64');
    let answer: M.RotateKeyAnswer;
    try {
      answer = await this.#signed<M.RotateKeyAnswer>(
        'rotate_key',
        opts,
        (id) => `rotate:${id}`,
        (id) => ({ node_id: id, new_public_key: newKey }),
      );
    } catch (err) {
      const id = opts.nodeId ?? this.nodeId;
      // The outcome is unknown when the connection broke or the answer did not come in time (a slow registry
      // may have applied it): ask. Repeating the request cannot help once the old key is gone.
      if (!(err instanceof RegistryError) || !OUTCOME_UNKNOWN.has(err.code) || !id) throw err;
      const now = await this.lookup(id, { signal: opts.signal, timeoutMs: opts.timeoutMs }).catch(() => null);
      if (now === null || now.public_key !== newKey) throw err;
      answer = {
        type: 'rotate_key_ok',
        node_id: now.node_id,
        address: now.address,
        public_key: now.public_key,
      };
    }
    if (opts.newSigner) this.#signer = opts.newSigner;
    return answer;
  }

  /** Ask for both endpoints of a hole punch; the acting node must be one of the two. */
  punch(nodeA: number, nodeB: number, opts: NodeCallOptions = {}): Promise<M.PunchAnswer> {
    return this.#signed(
      'punch',
      opts,
      () => `punch:${nodeA}:${nodeB}`,
      (id) => ({ requester_id: id, node_a: nodeA, node_b: nodeB }),
    );
  }

  updatePoloScore(nodeId: number, delta: number, opts: CallOptions = {}): Promise<M.PoloScoreAnswer> {
    return this.request({ type: 'update_polo_score', node_id: nodeId, delta }, opts);
  }

  setPoloScore(nodeId: number, score: number, opts: CallOptions = {}): Promise<M.PoloScoreAnswer> {
    return this.request({ type: 'set_polo_score', node_id: nodeId, polo_score: score }, opts);
  }

  getPoloScore(nodeId: number, opts: CallOptions = {}): Promise<M.PoloScoreAnswer> {
    return this.request({ type: 'get_polo_score', node_id: nodeId }, opts);
  }

  // ---- trust -------------------------------------------------------------------------------------------------

  reportTrust(peerId: number, opts: NodeCallOptions = {}): Promise<M.TrustAnswer> {
    return this.#signed(
      'report_trust',
      opts,
      (id) => `report_trust:${id}:${peerId}`,
      (id) => ({ node_id: id, peer_id: peerId }),
    );
  }

  revokeTrust(peerId: number, opts: NodeCallOptions = {}): Promise<M.TrustAnswer> {
    return alreadyDone(
      this.#signed(
        'revoke_trust',
        opts,
        (id) => `revoke_trust:${id}:${peerId}`,
        (id) => ({ node_id: id, peer_id: peerId }),
      ),
      'ERR_REGISTRY_NO_TRUST',
      () => ({ type: 'revoke_trust_ok', node_id: this.#actor(opts), peer_id: peerId }),
    );
  }

  requestHandshake(
    toNodeId: number,
    justification: string,
    opts: NodeCallOptions = {},
  ): Promise<M.RequestHandshakeAnswer> {
    return this.#signed(
      'request_handshake',
      opts,
      (id) => `handshake:${id}:${toNodeId}`,
      (id) => ({ from_node_id: id, to_node_id: toNodeId, justification }),
    );
  }

  /** Take (and clear) the pending handshake requests and responses addressed to the acting node. */
  pollHandshakes(opts: NodeCallOptions = {}): Promise<M.PollHandshakesAnswer> {
    return this.#signed(
      'poll_handshakes',
      opts,
      (id) => `poll_handshakes:${id}`,
      (id) => ({ node_id: id }),
    );
  }

  respondHandshake(
    peerId: number,
    accept: boolean,
    opts: NodeCallOptions = {},
  ): Promise<M.RespondHandshakeAnswer> {
    return this.#signed(
      'respond_handshake',
      opts,
      (id) => `respond:${id}:${peerId}`,
      (id) => ({ node_id: id, peer_id: peerId, accept }),
    );
  }

  // ---- networks ----------------------------------------------------------------------------------------------

  listNetworks(opts: CallOptions = {}): Promise<M.ListNetworksAnswer> {
    return this.request({ type: 'list_networks' }, opts);
  }

  listNodes(networkId: number, opts: CallOptions = {}): Promise<M.ListNodesAnswer> {
    return this.request({ type: 'list_nodes', network_id: networkId }, opts);
  }

  /** Create a network (admin token required); `nodeId` becomes its first member. */
  createNetwork(
    spec: {
      name: string;
      adminToken: string;
      joinRule?: 'open' | 'token' | 'invite';
      token?: string;
      nodeId?: number;
    },
    opts: CallOptions = {},
  ): Promise<M.CreateNetworkAnswer> {
    const msg: Record<string, unknown> & { type: string } = {
      type: 'create_network',
      name: spec.name,
      admin_token: spec.adminToken,
      join_rule: spec.joinRule ?? 'open',
    };
    if (spec.token !== undefined) msg.token = spec.token;
    if (spec.nodeId !== undefined) msg.node_id = spec.nodeId;
    return this.request(msg, opts);
  }

  /** Join a network: signed by the acting node, or on its behalf with `adminToken`. */
  joinNetwork(
    networkId: number,
    opts: NodeCallOptions & { token?: string; adminToken?: string } = {},
  ): Promise<M.MembershipAnswer> {
    const extra: Record<string, unknown> = { network_id: networkId };
    if (opts.token !== undefined) extra.token = opts.token;
    return alreadyDone(
      this.#networkCall<M.MembershipAnswer>('join_network', `join_network`, networkId, extra, opts),
      'ERR_REGISTRY_ALREADY_MEMBER',
      () => ({ type: 'join_network_ok', network_id: networkId, node_id: opts.nodeId ?? this.nodeId }),
    );
  }

  leaveNetwork(
    networkId: number,
    opts: NodeCallOptions & { adminToken?: string } = {},
  ): Promise<M.MembershipAnswer> {
    return alreadyDone(
      this.#networkCall<M.MembershipAnswer>(
        'leave_network',
        'leave_network',
        networkId,
        { network_id: networkId },
        opts,
      ),
      'ERR_REGISTRY_NOT_MEMBER',
      () => ({ type: 'leave_network_ok', network_id: networkId, node_id: opts.nodeId ?? this.nodeId }),
    );
  }

  inviteToNetwork(
    networkId: number,
    targetId: number,
    opts: NodeCallOptions & { adminToken?: string } = {},
  ): Promise<M.InviteAnswer> {
    if (opts.adminToken !== undefined) {
      return this.request(
        {
          type: 'invite_to_network',
          network_id: networkId,
          target_id: targetId,
          admin_token: opts.adminToken,
        },
        opts,
      );
    }
    return this.#signed(
      'invite_to_network',
      opts,
      (id) => `invite:${id}:${networkId}:${targetId}`,
      (id) => ({ node_id: id, network_id: networkId, target_id: targetId }),
    );
  }

  pollInvites(opts: NodeCallOptions = {}): Promise<M.PollInvitesAnswer> {
    return this.#signed(
      'poll_invites',
      opts,
      (id) => `poll_invites:${id}`,
      (id) => ({ node_id: id }),
    );
  }

  respondInvite(
    networkId: number,
    accept: boolean,
    opts: NodeCallOptions = {},
  ): Promise<M.RespondInviteAnswer> {
    return this.#signed(
      'respond_invite',
      opts,
      (id) => `respond_invite:${id}:${networkId}`,
      (id) => ({ node_id: id, network_id: networkId, accept }),
    );
  }

  #networkCall<T extends M.RegistryAnswer>(
    type: string,
    prefix: string,
    networkId: number,
    extra: Record<string, unknown>,
    opts: NodeCallOptions & { adminToken?: string },
  ): Promise<T> {
    if (opts.adminToken !== undefined) {
      const id = opts.nodeId ?? this.nodeId;
      return this.request<T>({ type, node_id: id, admin_token: opts.adminToken, ...extra }, opts);
    }
    return this.#signed<T>(
      type,
      opts,
      (id) => `${prefix}:${id}:${networkId}`,
      (id) => ({ node_id: id, ...extra }),
    );
  }

  // ---- beacons -----------------------------------------------------------------------------------------------

  beaconRegister(beaconId: number, addr: string, opts: CallOptions = {}): Promise<M.BeaconRegisterAnswer> {
    return this.request({ type: 'beacon_register', beacon_id: beaconId, addr }, opts);
  }

  beaconList(opts: CallOptions = {}): Promise<M.BeaconListAnswer> {
    return this.request({ type: 'beacon_list' }, opts);
  }
}
