/**
 * @packageDocumentation
 * The daemon's local IPC: the reference protocol codec (plus pilot extensions), the daemon-side server and
 * the TypeScript driver. Imports only `src/coreapi`. See docs/ipc.md.
 */
export * from './constants.js';
export * from './errors.js';
export * from './protocol.js';
export { FrameDecoder } from './frame-decoder.js';
export type * from './daemon-control.js';
export { createIpcServer, IpcServer, type IpcServerOptions } from './server.js';
export { connect } from './connect.js';
export {
  Driver,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type ConnectOptions,
  type RequestCallOptions,
} from './driver.js';
export type { RequestOptions } from './request-queue.js';
export { DriverStream } from './driver-stream.js';
export { DriverListener, DriverDatagramSocket } from './driver-listener.js';
