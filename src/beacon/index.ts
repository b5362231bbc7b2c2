/**
 * @packageDocumentation
 * The beacon: STUN-like endpoint discovery, hole-punch coordination and relay between pilot nodes
 * (reference §5), plus its message codec and its `pilot beacon` command.
 */
export * from './constants.js';
export * from './counters.js';
export * from './errors.js';
export * from './ip.js';
export * from './messages.js';
export { createBeacon, Beacon, BeaconState, type BeaconPeerInfo } from './server.js';
export {
  resolveBeaconOptions,
  type BeaconListEntry,
  type BeaconOptions,
  type BeaconRegistry,
  type ResolvedBeaconOptions,
} from './options.js';
export { runBeaconCli, type BeaconCliOptions } from './cli.js';
