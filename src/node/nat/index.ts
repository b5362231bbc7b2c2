/**
 * @packageDocumentation
 * NAT traversal of a node: endpoint discovery through the beacon, coordinated hole punching and the relay
 * fallback (reference §5, §5.1). The composition root creates it with the node's tunnel and wires it in.
 */
export { createNatTraversal, NatTraversal } from './nat-traversal.js';
export {
  NatState,
  type NatDiscoveredEvent,
  type NatDropReason,
  type NatPeerEvent,
  type NatRelayEvent,
  type NatStartDeps,
  type NatStats,
  type SynRetryEvent,
} from './types.js';
export {
  NAT_DEFAULTS,
  resolveNatOptions,
  type NatTraversalOptions,
  type ResolvedNatOptions,
  type SynRetrySource,
} from './options.js';
export { NatBeaconResolveError, NatClosedError, NatConfigError } from './errors.js';
export { formatEndpoint, parseEndpoint, registrationAddr } from './endpoint.js';
