/** Finding peers: the client side of the directory registry. */
import type { Addr } from './addr.js';

/** A UDP endpoint (host is an IP literal). */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** True for a UDP port a datagram can be sent to (an integer in 1..65535; 0 is not one). */
export function isUdpPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 0xffff;
}

export interface PeerInfo {
  readonly nodeId: number;
  readonly addr: Addr;
  /** Real UDP endpoint, or null when hidden/unknown. */
  readonly endpoint: Endpoint | null;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  readonly public: boolean;
  readonly hostname?: string;
  readonly relayOnly: boolean;
}

export interface ResolveOptions {
  signal?: AbortSignal;
}

export interface PeerResolver {
  /** Rejects ERR_PEER_NOT_FOUND when the registry has no (visible) record. */
  resolve(nodeId: number, options?: ResolveOptions): Promise<PeerInfo>;
  /** Hostname → node ID. Rejects ERR_PEER_NOT_FOUND. */
  resolveHostname(name: string, options?: ResolveOptions): Promise<number>;
  listByNetwork(networkId: number, options?: ResolveOptions): Promise<PeerInfo[]>;
}
