/**
 * @packageDocumentation
 * pilot: the library root. Everything a program needs to run or talk to a pilot node.
 */
export * from './coreapi/index.js';
export * from './transport/packet.js';
export * from './transport/frames.js';
export * from './transport/errors.js';
export * from './transport/identity-file.js';
export { StaticPeerDirectory, type ExpectedKeySource, type EndpointSource } from './transport/key-source.js';
export {
  generateEd25519,
  ed25519FromSeed,
  ed25519FromPrivate64,
  ed25519Sign,
  ed25519Verify,
  type Ed25519KeyPair,
} from './transport/keys.js';
export { createTunnel, UdpTunnel, type TunnelOptions, type EstablishedEvent } from './transport/tunnel.js';
export type { TrafficSnapshot, DropReason } from './transport/counters.js';
export type { PeerInfoSnapshot } from './transport/peer.js';
export * from './streams/index.js';
export {
  createStaticNode,
  type StaticNode,
  type StaticNodeOptions,
  type StaticPeer,
} from './node/static-node.js';
export * from './node/config.js';
export * from './node/config-file.js';
export { DAEMON_HEAP_GROWING_PERCENT, tuneDaemonGc, type GcTuning } from './node/gc-tuning.js';
export {
  createNode,
  NodeStartError,
  runDaemon,
  type NodeOptions,
  type PilotNode,
  type RunDaemonOptions,
} from './node/index.js';
export * from './registry/index.js';
export { runRegistryCli } from './registry/cli.js';
export * from './beacon/index.js';
// The local-client surface (IPC driver) is the light entry's; the root adds the daemon side of IPC.
export * from './client.js';
export { createIpcServer, IpcServer } from './ipc/index.js';
export type { DaemonControl, IpcServerOptions } from './ipc/index.js';
export * from './runtime/index.js';
