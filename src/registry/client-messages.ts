/**
 * The registry's success answers as the client returns them: the wire JSON objects, field names exactly as on
 * the wire (snake_case, reference §7.3), with their `type` (`<request>_ok`).
 */

export interface RegistryAnswer {
  readonly type: string;
}

export interface RegisterAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly network_id: number;
  readonly address: string;
  readonly public_key: string;
  readonly hostname?: string;
  readonly hostname_error?: string;
}

export interface LookupAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly address: string;
  readonly networks: number[];
  readonly public_key: string;
  readonly public: boolean;
  readonly polo_score: number;
  readonly hostname?: string;
  readonly tags?: string[];
  readonly task_exec?: boolean;
  readonly real_addr?: string;
}

export interface ResolveAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly real_addr: string;
}

export interface HeartbeatAnswer extends RegistryAnswer {
  readonly node_id: number;
  /** Server time, unix seconds. */
  readonly time: number;
}

export interface NodeIdAnswer extends RegistryAnswer {
  readonly node_id: number;
}

export interface VisibilityAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly visibility: 'public' | 'private';
}

export interface HostnameAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly hostname: string;
}

export interface ResolveHostnameAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly address: string;
  readonly public: boolean;
  readonly hostname: string;
}

export interface TagsAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly tags: string[];
}

export interface TaskExecAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly task_exec: boolean;
}

export interface TrustAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly peer_id: number;
}

export interface HandshakeRequestEntry {
  readonly from_node_id: number;
  readonly justification: string;
  readonly timestamp: number;
}

export interface HandshakeResponseEntry {
  readonly from_node_id: number;
  readonly accept: boolean;
  readonly timestamp: number;
}

export interface PollHandshakesAnswer extends RegistryAnswer {
  readonly requests: HandshakeRequestEntry[];
  readonly responses: HandshakeResponseEntry[];
}

export interface RequestHandshakeAnswer extends RegistryAnswer {
  readonly status: string;
}

export interface RespondHandshakeAnswer extends RegistryAnswer {
  readonly accept: boolean;
  readonly peer_id: number;
}

export interface PunchAnswer extends RegistryAnswer {
  readonly node_a: number;
  readonly node_a_addr: string;
  readonly node_b: number;
  readonly node_b_addr: string;
}

export interface RotateKeyAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly address: string;
  readonly public_key: string;
}

export interface NetworkSummary {
  readonly id: number;
  readonly name: string;
  readonly members: number;
  readonly join_rule: string;
}

export interface ListNetworksAnswer extends RegistryAnswer {
  readonly networks: NetworkSummary[];
}

export interface NetworkNode {
  readonly node_id: number;
  readonly address: string;
  readonly hostname?: string;
  readonly task_exec?: boolean;
  readonly real_addr?: string;
}

export interface ListNodesAnswer extends RegistryAnswer {
  readonly network_id: number;
  readonly nodes: NetworkNode[];
}

export interface CreateNetworkAnswer extends RegistryAnswer {
  readonly network_id: number;
  readonly name: string;
  readonly join_rule: string;
}

export interface MembershipAnswer extends RegistryAnswer {
  readonly network_id: number;
  readonly node_id: number;
}

export interface InviteAnswer extends RegistryAnswer {
  readonly network_id: number;
  readonly target_id: number;
  readonly status: string;
}

export interface InviteEntry {
  readonly network_id: number;
  readonly name: string;
  readonly inviter_id: number;
  readonly timestamp: number;
}

export interface PollInvitesAnswer extends RegistryAnswer {
  readonly invites: InviteEntry[];
}

export interface RespondInviteAnswer extends RegistryAnswer {
  readonly network_id: number;
  readonly accept: boolean;
}

export interface PoloScoreAnswer extends RegistryAnswer {
  readonly node_id: number;
  readonly address: string;
  readonly polo_score: number;
}

export interface BeaconRegisterAnswer extends RegistryAnswer {
  readonly beacon_id: number;
}

export interface BeaconListAnswer extends RegistryAnswer {
  readonly beacons: Array<{ readonly id: number; readonly addr: string }>;
}
