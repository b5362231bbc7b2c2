/**
 * The snapshot format: the reference registry's store JSON (`next_node`, `next_net`, `nodes`, `networks`,
 * `trust_pairs`, `pub_key_idx`, `handshake_inbox`, `handshake_responses`) plus our additions `owner_idx` and
 * `network_invites`. Also the shape of a replication snapshot.
 */

export interface NodeJson {
  id: number;
  owner?: string;
  /** Standard base64 of the 32-byte Ed25519 key. */
  public_key: string;
  real_addr?: string;
  /** Network memberships, backbone (0) included. */
  networks: number[];
  public?: boolean;
  /** RFC 3339. */
  last_seen?: string;
  hostname?: string;
  tags?: string[];
  polo_score?: number;
  task_exec?: boolean;
}

export type JoinRule = 'open' | 'token' | 'invite';

export interface NetworkJson {
  id: number;
  name: string;
  join_rule: JoinRule;
  token?: string;
  /** Members; empty for the backbone, whose membership is every registered node. */
  members: number[];
  /** RFC 3339. */
  created: string;
}

export interface HandshakeRequestJson {
  from_node_id: number;
  justification: string;
  /** Unix seconds. */
  timestamp: number;
}

export interface HandshakeResponseJson {
  from_node_id: number;
  accept: boolean;
  /** Unix seconds. */
  timestamp: number;
}

export interface InviteJson {
  network_id: number;
  inviter_id: number;
  /** Unix seconds. */
  timestamp: number;
}

/** Everything except the node records. */
export interface SnapshotHeader {
  next_node: number;
  next_net: number;
  networks: Record<string, NetworkJson>;
  trust_pairs: string[];
  /** Keys whose ID is not (or no longer) held by a live node with that key; live nodes index themselves. */
  pub_key_idx: Record<string, number>;
  /** Owners whose ID is not held by a live node with that owner. */
  owner_idx: Record<string, number>;
  /**
   * Owners of node IDs not held by a live node with that owner, when `owner_idx` does not already say so (ours:
   * a node sharing its owner string with another node is not in `owner_idx`).
   */
  node_owners: Record<string, string>;
  handshake_inbox: Record<string, HandshakeRequestJson[]>;
  handshake_responses: Record<string, HandshakeResponseJson[]>;
  network_invites: Record<string, InviteJson[]>;
}

/** A complete snapshot in memory. */
export interface SnapshotData extends SnapshotHeader {
  nodes: Record<string, NodeJson>;
}

/**
 * A snapshot being written: a point-in-time view whose node records are produced in batches so a large
 * registry can be saved without stopping request processing.
 */
export interface SnapshotSource {
  readonly header: SnapshotHeader;
  /** Number of node records the batches will produce (at most). */
  readonly nodeCount: number;
  /** Node records, in batches. Consume once. */
  nodeBatches(): AsyncIterable<NodeJson[]>;
}
