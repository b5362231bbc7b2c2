/** The shape of a running node (kept apart from its construction so both sides can import it). */
import type { Addr } from '../coreapi/addr.js';
import type { Identity } from '../coreapi/identity.js';
import type { Logger } from '../coreapi/logger.js';
import type { Service } from '../coreapi/service.js';
import type { Datagram } from '../coreapi/streams.js';
import type { Beacon } from '../beacon/index.js';
import type { IpcServer } from '../ipc/index.js';
import type { RegistryClient, RegistryPeerResolver, RegistryServer } from '../registry/index.js';
import type { LocalEventBus, ServiceRegistry } from '../runtime/index.js';
import type { StreamStack } from '../streams/stack.js';
import type { Ed25519KeyPair } from '../transport/keys.js';
import type { UdpTunnel } from '../transport/tunnel.js';
import type { NodeConfig } from './config.js';
import type { NatTraversal } from './nat/index.js';
import type { TrustManager } from './trust/index.js';

export interface NodeOptions extends Partial<NodeConfig> {
  logger?: Logger;
  /** Extra services started with the built-ins (tests, embedding applications). */
  services?: Service[];
  /** Serve the IPC socket (default true). */
  ipc?: boolean;
  /** Stream-layer overrides (tests). */
  streams?: Record<string, unknown>;
  /** Run the trust manager (default true; tests that drive their own pass false). */
  trustManager?: boolean;
  /**
   * Aborts the start: createNode stops at its next step (the registration request, a service's start),
   * undoes what it set up (a node already registered is deregistered) and rejects with the abort reason.
   */
  signal?: AbortSignal;
}

export interface StopOptions {
  /**
   * Cuts the stop short: the services' and the streams' graceful phases are not awaited any longer, the node
   * still deregisters (≤ 2 s), removes its IPC socket and closes its sockets.
   */
  signal?: AbortSignal;
}

/**
 * Registry settings a local client changed at run time that are not in the config (hostname and visibility
 * live in `config`): the node applies them again after a re-registration. `null` = never set.
 */
export interface RegistrationState {
  tags: string[] | null;
  taskExec: boolean | null;
}

export interface PilotNode {
  /** The effective configuration; `hostname` and `public` follow the IPC set-hostname / set-public commands. */
  readonly config: NodeConfig;
  readonly registration: RegistrationState;
  readonly logger: Logger;
  readonly identity: Identity;
  readonly keyPair: Ed25519KeyPair;
  readonly nodeId: number;
  readonly addr: Addr;
  readonly tunnel: UdpTunnel;
  readonly streams: StreamStack;
  readonly events: LocalEventBus;
  readonly services: ServiceRegistry;
  readonly registry: RegistryClient;
  readonly resolver: RegistryPeerResolver;
  /** The registry this node joined (`host:port`). */
  readonly registryAddr: string;
  /** The embedded registry/beacon when this node runs them. */
  readonly embeddedRegistry: RegistryServer | null;
  readonly embeddedBeacon: Beacon | null;
  readonly ipc: IpcServer | null;
  /** Trust handshakes (port 444), the trust store and the plugins' TrustChecker. */
  readonly trust: TrustManager | null;
  /** Endpoint discovery, hole punching and relay fallback through the beacon. */
  readonly nat: NatTraversal;
  readonly startedAt: Date;
  /** Subscribe to every datagram the node receives. */
  onDatagram(handler: (d: Datagram) => void): () => void;
  /** Stop: services in reverse order, FIN to open streams (≤ 1 s), deregister, IPC socket removed, sockets. */
  stop(options?: StopOptions): Promise<void>;
}
