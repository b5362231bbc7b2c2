/** The node's identity as a plugin sees it. */
import type { Addr } from './addr.js';

export interface Identity {
  /** Node ID assigned by the registry (0 until registered). */
  readonly nodeId: number;
  /** The node's 48-bit address. */
  readonly address: Addr;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  /** Ed25519 signature (64 bytes) of `message` with the node's identity key. */
  sign(message: Uint8Array): Buffer;
}
