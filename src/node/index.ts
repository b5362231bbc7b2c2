/** The node composition: createNode, runDaemon, configuration, static nodes. */
export { createNode, NodeStartError, type NodeOptions, type PilotNode } from './node.js';
export { runDaemon, type RunDaemonOptions } from './daemon.js';
export { nodeInfo, createNodeControl, NotImplementedError } from './node-control.js';
export { createLogger } from './logger.js';
export * from './config.js';
export * from './static-node.js';
