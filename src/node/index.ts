/** The node composition: createNode, runDaemon, configuration, static nodes. */
export {
  createNode,
  NodeStartError,
  type NodeOptions,
  type PilotNode,
  type RegistrationState,
} from './node.js';
export { runDaemon, type RunDaemonOptions } from './daemon.js';
export { DAEMON_HEAP_GROWING_PERCENT, tuneDaemonGc, type GcTuning } from './gc-tuning.js';
export { nodeInfo, createNodeControl, NotImplementedError } from './node-control.js';
export { createLogger } from './logger.js';
export * from './config.js';
export * from './static-node.js';
