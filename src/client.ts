/**
 * @packageDocumentation
 * pilot/client: the light entry for programs that talk to a running daemon (the `pilot` CLI among them).
 * It is coreapi, the IPC driver and the configuration loader. It loads none of the tunnel, streams, node,
 * registry or plugin code, so a process that imports it starts in about a third of the time the library
 * root takes.
 */
export * from './coreapi/index.js';
export { connect, Driver, DriverStream, DriverListener, DriverDatagramSocket } from './ipc/index.js';
export type { DaemonInfo, ConnectOptions } from './ipc/index.js';
export { loadConfig, parseDuration, type NodeConfig } from './node/config.js';
