/**
 * What the IPC server needs from the daemon besides `Streams`: the node's management operations. The node
 * composition implements this interface; the IPC server only translates between the socket protocol and these
 * calls. Every method may return a value or a promise; a rejection (preferably a PilotError with a stable
 * `code`) becomes an `Error` reply to the client (its message is the text a reference driver shows as
 * `daemon: <text>`).
 *
 * JSON shapes follow the reference: the registry operations return the registry's JSON response object
 * (e.g. `{node_id, hostname}` for set_hostname); `info()` returns the §8.1 keys (see {@link DaemonInfo}).
 */
import type { Addr } from '../coreapi/addr.js';
import type { Datagram } from '../coreapi/streams.js';

export type JsonObject = Record<string, unknown>;
export type Awaitable<T> = T | Promise<T>;

/** One row of `info().peer_list`. */
export interface DaemonPeerRow {
  node_id: number;
  endpoint: string;
  encrypted: boolean;
  authenticated: boolean;
}

/** One row of `info().conn_list`. */
export interface DaemonConnRow {
  id: number;
  local_port: number;
  remote_addr: string;
  remote_port: number;
  state: string;
  cong_win: number;
  ssthresh: number;
  in_flight: number;
  srtt_ms: number;
  rttvar_ms: number;
  unacked: number;
  ooo_buf: number;
  peer_recv_win: number;
  recv_win: number;
  in_recovery: boolean;
  bytes_sent: number;
  bytes_recv: number;
  segs_sent: number;
  segs_recv: number;
  retransmits: number;
  fast_retx: number;
  sack_recv: number;
  sack_sent: number;
  dup_acks: number;
}

/** The Info JSON object (reference §8.1). Extra keys are allowed and passed through. */
export interface DaemonInfo {
  node_id: number;
  address: string;
  hostname: string;
  uptime_secs: number;
  /** ESTABLISHED/SYN_SENT/SYN_RECV connections. */
  connections: number;
  /** Bound listeners. */
  ports: number;
  peers: number;
  encrypted_peers: number;
  authenticated_peers: number;
  encrypt: boolean;
  /** True when an identity path is configured. */
  identity: boolean;
  /** Base64 Ed25519 public key. */
  public_key: string;
  owner: string;
  bytes_sent: number;
  bytes_recv: number;
  pkts_sent: number;
  pkts_recv: number;
  peer_list: DaemonPeerRow[];
  conn_list: DaemonConnRow[];
  [key: string]: unknown;
}

/** `handshakePending()` result: `{pending: [...]}`. */
export interface HandshakePendingRow {
  node_id: number;
  public_key: string;
  justification: string;
  /** Unix seconds. */
  received_at: number;
}

/** `handshakeTrusted()` result: `{trusted: [...]}`. */
export interface HandshakeTrustedRow {
  node_id: number;
  public_key: string;
  approved_at: string;
  mutual: boolean;
  network: number;
}

export interface DaemonControl {
  /** The node's current address (sent to extension clients in HelloOK; streams' local address). */
  address(): Addr;
  /** 0x0D Info → the §8.1 object. */
  info(): Awaitable<DaemonInfo | JsonObject>;
  /** 0x11 → the registry's resolve_hostname response `{node_id, address, public, hostname}`. */
  resolveHostname(hostname: string): Awaitable<JsonObject>;
  /** 0x13 ("" clears) → the registry's set_hostname response. */
  setHostname(hostname: string): Awaitable<JsonObject>;
  /** 0x15 → the registry's set_visibility response. */
  setVisibility(isPublic: boolean): Awaitable<JsonObject>;
  /** 0x17 → the registry's deregister response. */
  deregister(): Awaitable<JsonObject>;
  /** 0x19 (the server already refused more than 3 tags) → the registry's set_tags response. */
  setTags(tags: string[]): Awaitable<JsonObject>;
  /** 0x1B ("" clears) → `{webhook: url}`. */
  setWebhook(url: string): Awaitable<JsonObject>;
  /** 0x1D → the registry's set_task_exec response. */
  setTaskExec(enabled: boolean): Awaitable<JsonObject>;
  /** Handshake 0x01 → `{status: "sent", node_id}`. */
  handshakeSend(nodeId: number, justification: string): Awaitable<JsonObject>;
  /** Handshake 0x02 → `{status: "approved", node_id}`. */
  handshakeApprove(nodeId: number): Awaitable<JsonObject>;
  /** Handshake 0x03 → `{status: "rejected", node_id}`. */
  handshakeReject(nodeId: number, reason: string): Awaitable<JsonObject>;
  /** Handshake 0x04 → `{pending: HandshakePendingRow[]}`. */
  handshakePending(): Awaitable<JsonObject>;
  /** Handshake 0x05 → `{trusted: HandshakeTrustedRow[]}`. */
  handshakeTrusted(): Awaitable<JsonObject>;
  /** Handshake 0x06 → `{status: "revoked", node_id}`; rejects when the node is not trusted. */
  handshakeRevoke(nodeId: number): Awaitable<JsonObject>;
  /**
   * Close a connection that this IPC client does not own (`pilotctl disconnect <id>` names any connection of
   * the daemon). Resolves true when it existed and was closed, false when there is no such connection.
   */
  closeConnection(connId: number): Awaitable<boolean>;
  /**
   * Subscribe to every datagram the node receives (the reference delivers each one to every IPC client).
   * Returns the unsubscribe function. Called once by the server.
   */
  onDatagram(handler: (datagram: Datagram) => void): () => void;
}
