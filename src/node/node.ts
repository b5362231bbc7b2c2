/**
 * The composition root: a pilot node. It loads the identity, binds the tunnel, joins a registry (an embedded
 * one on loopback when none is configured), heartbeats, runs the streams stack, hands the built-in services
 * their Deps through the ServiceRegistry, and serves local clients on the IPC socket.
 */
import { dirname, join } from 'node:path';
import { makeAddr, type Addr } from '../coreapi/addr.js';
import { AbortError, PilotError } from '../coreapi/errors.js';
import type { EventBus } from '../coreapi/events.js';
import type { Identity } from '../coreapi/identity.js';
import type { Logger } from '../coreapi/logger.js';
import type { Endpoint } from '../coreapi/resolver.js';
import type { Datagram } from '../coreapi/streams.js';
import { createBeacon, type Beacon } from '../beacon/index.js';
import { createIpcServer, type IpcServer } from '../ipc/index.js';
import { builtinPlugins } from '../plugins/index.js';
import {
  RegistryClient,
  RegistryKeySource,
  RegistryPeerResolver,
  startRegistry,
  type RegistryServer,
} from '../registry/index.js';
import {
  createEventBus,
  createServiceRegistry,
  createSupervisor,
  loadPlugins,
  registerPlugins,
} from '../runtime/index.js';
import { createStreams, type StreamStack } from '../streams/stack.js';
import { loadOrCreateIdentity } from '../transport/identity-file.js';
import { generateEd25519, ed25519Sign, type Ed25519KeyPair } from '../transport/keys.js';
import { aeadBackend } from '../transport/native-aead.js';
import { createTunnel, type UdpTunnel } from '../transport/tunnel.js';
import {
  defaultConfig,
  ensureDataDir,
  splitHostPort,
  validateNodeConfig,
  type NodeConfig,
} from './config.js';
import { createNodeControl } from './node-control.js';
import type { NodeOptions, PilotNode, RegistrationState } from './pilot-node.js';

/** Longest keep-alive Discover interval: half the beacon's 60 s node TTL (src/beacon/constants.ts). */
const MAX_DISCOVER_INTERVAL_MS = 30_000;
/**
 * Longest registry heartbeat interval: the registry reaps a node after 3 min without one (reference §7.4), and
 * the node re-registers after 3 failed heartbeats, so 3 intervals must fit in that time.
 */
const MAX_HEARTBEAT_INTERVAL_MS = 60_000;

export type { NodeOptions, PilotNode, RegistrationState, StopOptions } from './pilot-node.js';
import { createLogger } from './logger.js';
import { createNatTraversal } from './nat/index.js';
import { createTrustManager } from './trust/index.js';

export class NodeStartError extends PilotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NODE_START', message, options);
  }
}

async function listenWithFallback<T>(
  addr: string,
  start: (addr: string) => Promise<T>,
  log: Logger,
  what: string,
): Promise<T> {
  try {
    return await start(addr);
  } catch (err) {
    const code = (err as { code?: string; cause?: { code?: string } }).code;
    const causeCode = (err as { cause?: { code?: string } }).cause?.code;
    if (
      code !== 'EADDRINUSE' &&
      causeCode !== 'EADDRINUSE' &&
      !/EADDRINUSE|in use/i.test((err as Error).message)
    )
      throw err;
    const { host } = splitHostPort(addr);
    log.warn({ addr }, `${what} address in use; using an ephemeral port`);
    return start(`${host}:0`);
  }
}

/** Start a node. Rejects with a typed error (config, identity, bind, registry) and leaves nothing running. */
export async function createNode(options: NodeOptions = {}): Promise<PilotNode> {
  const {
    logger: givenLogger,
    services: extraServices,
    ipc: wantIpc,
    streams: streamOverrides,
    trustManager: wantTrust,
    signal,
    ...cfgOverrides
  } = options;
  /** Between the steps of the start: an abort ends it (undo runs in the catch below). */
  const checkAborted = (): void => {
    if (!signal?.aborted) return;
    throw signal.reason instanceof Error ? signal.reason : new AbortError('node start aborted');
  };
  const config: NodeConfig = { ...defaultConfig(), ...cfgOverrides };
  validateNodeConfig(config);
  const logger = givenLogger ?? createLogger(config.logLevel, config.logFormat);
  const cleanup: (() => Promise<void> | void)[] = [];
  const undo = async (): Promise<void> => {
    for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => {});
  };
  try {
    // Identity.
    let keyPair: Ed25519KeyPair;
    if (config.identity) {
      const r = await loadOrCreateIdentity(config.identity);
      keyPair = r.keyPair;
      if (r.created) logger.info({ path: config.identity }, 'created a new identity');
    } else {
      keyPair = generateEd25519();
    }
    checkAborted();

    // Embedded registry and beacon when no registry is configured.
    let embeddedRegistry: RegistryServer | null = null;
    let embeddedBeacon: Beacon | null = null;
    let registryAddr = config.registry;
    let beaconAddr = config.beacon;
    if (!registryAddr) {
      ensureDataDir(config.dataDir);
      embeddedRegistry = await listenWithFallback(
        config.embeddedRegistry,
        (addr) => startRegistry({ addr, store: join(config.dataDir, 'registry.json'), logger }),
        logger,
        'embedded registry',
      );
      cleanup.push(() => embeddedRegistry?.close());
      const a = embeddedRegistry.address as { host: string; port: number };
      registryAddr = `${a.host}:${a.port}`;
      logger.info({ registry: registryAddr }, 'embedded registry listening');
      if (!beaconAddr) {
        embeddedBeacon = await listenWithFallback(
          config.embeddedBeacon,
          (addr) => {
            const hp = splitHostPort(addr);
            return createBeacon({ host: hp.host || '127.0.0.1', port: hp.port });
          },
          logger,
          'embedded beacon',
        );
        cleanup.push(() => embeddedBeacon?.close());
        const b = embeddedBeacon.address();
        beaconAddr = `${b.host}:${b.port}`;
        logger.info({ beacon: beaconAddr }, 'embedded beacon listening');
      }
    }

    // Registry client, key source and resolver.
    let nodeId = 0;
    const identity: Identity = {
      get nodeId() {
        return nodeId;
      },
      get address() {
        return makeAddr(0, nodeId);
      },
      publicKey: keyPair.publicKey,
      sign: (m: Uint8Array) => ed25519Sign(keyPair, m),
    };
    const registry = new RegistryClient({
      addr: registryAddr,
      tls: config.registryTls ? { fingerprint: config.registryFingerprint ?? undefined } : undefined,
      signer: {
        get nodeId() {
          return nodeId;
        },
        publicKey: keyPair.publicKey,
        sign: identity.sign,
      },
      logger,
      // Fail fast when the registry is unreachable at start-up; the heartbeat loop re-registers later.
      reconnectAttempts: 3,
    } as ConstructorParameters<typeof RegistryClient>[0]);
    cleanup.push(() => registry.close());
    const keys = new RegistryKeySource({ client: registry });
    const resolver = new RegistryPeerResolver({ client: registry });

    // Tunnel.
    const listen = splitHostPort(config.listen, 'listen');
    const tunnel = await createTunnel({
      host: listen.host || '127.0.0.1',
      port: listen.port,
      identity: keyPair,
      encrypt: config.encrypt,
      crypto: config.tunnelCrypto,
      keys,
      endpoints: {
        resolveEndpoint: async (id: number): Promise<Endpoint | null> => {
          try {
            return (await resolver.resolve(id)).endpoint;
          } catch {
            return null;
          }
        },
      },
    });
    cleanup.push(() => tunnel.close());
    checkAborted();

    // Public endpoint: fixed (--endpoint) or discovered through the beacon.
    const nat = createNatTraversal({
      tunnel,
      beacon: beaconAddr,
      endpoint: config.endpoint,
      // The beacon forgets a node after 60 s without a Discover, and punching and the relay need its entry:
      // a longer keepalive (up to 24 h) must not stretch the Discover interval past that.
      discoverIntervalMs: Math.min(config.keepalive, MAX_DISCOVER_INTERVAL_MS),
      logger,
    });
    cleanup.push(() => nat.close());
    try {
      await nat.discover({ signal });
    } catch (err) {
      // An abort while discovering: the start's own abort error, as at every other step.
      checkAborted();
      throw err;
    }
    checkAborted();
    const listenAddr = nat.registrationAddr();

    // Register (same key → same node ID across restarts).
    const reg = await registry
      .register({
        timeoutMs: 10_000,
        signal,
        listenAddr,
        owner: config.owner ?? undefined,
        hostname: config.hostname ?? undefined,
      })
      .catch((err: unknown) => {
        checkAborted();
        throw new NodeStartError(
          `cannot register with the registry at ${registryAddr}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      });
    nodeId = reg.node_id;
    tunnel.setNodeId(nodeId);
    // A start that fails from here on must not leave the node registered (holding its hostname).
    cleanup.push(async () => {
      await registry.deregister({ timeoutMs: 2000 });
    });
    // The node's effective configuration: the IPC commands update hostname and visibility in it, and the
    // heartbeat's re-registration restores them from it.
    const nodeConfig: NodeConfig = { ...config, registry: registryAddr, beacon: beaconAddr };
    const registration: RegistrationState = { tags: null, taskExec: null };
    keepRegisteredHostname(nodeConfig, reg, logger);
    checkAborted();
    if (config.public) await registry.setVisibility(true);

    const events = createEventBus({ nodeId: () => nodeId });
    const streams = createStreams(tunnel, {
      network: 0,
      keepaliveMs: config.keepalive,
      idleTimeoutMs: config.idleTimeout,
      timeWaitMs: config.timeWait,
      synRateGlobal: config.synRateLimit,
      synRatePerSource: config.synRatePerSource,
      maxConnsPerPort: config.maxConnsPerPort,
      maxConnsTotal: config.maxConnsTotal,
      ...streamOverrides,
    });
    cleanup.push(() => streams.close());
    wireEvents(tunnel, streams, events);
    nat.start({ streams, events });
    const refreshed = new Map<number, number>();
    const refreshPeer = (id: number): void => {
      // The peer may have restarted elsewhere: look its endpoint up again (at most every 2 s per peer).
      const now = Date.now();
      if (now - (refreshed.get(id) ?? 0) < 2000) return;
      if (refreshed.size > 4096) refreshed.clear();
      refreshed.set(id, now);
      resolver.invalidate(id);
      tunnel.refreshEndpoint(id);
    };
    streams.on('syn-retry', (e: { node: number; attempt: number }) => {
      if (e.attempt === 1) refreshPeer(e.node);
    });
    streams.on('rto', (c: { remoteAddr: Addr }) => refreshPeer(c.remoteAddr.node));
    events.publish('node.registered', {
      node_id: nodeId,
      address: reg.address,
      hostname: reg.hostname ?? '',
    });

    // Datagram fan-out (IPC clients and others).
    const datagramHandlers = new Set<(d: Datagram) => void>();
    streams.setDatagramTap((d) => {
      for (const h of datagramHandlers) h(d);
    });

    // Services.
    const hostCapabilities = ['streams', 'resolver', 'identity', 'events', 'trust'];
    const services = createServiceRegistry({ logger, hostCapabilities });
    const disabled = new Set(config.disable);
    if (!config.stdio) disabled.add('stdio');
    const pluginConfig: Record<string, Record<string, unknown>> = {};
    for (const p of builtinPlugins) {
      pluginConfig[p.name] = {
        ...(p.name === 'dataexchange' ? { dataDir: config.dataDir } : {}),
        ...config.plugins[p.name],
      };
    }
    for (const [name, c] of Object.entries(config.plugins)) pluginConfig[name] ??= c;
    if (config.webhook) pluginConfig.webhook = { ...pluginConfig.webhook, url: config.webhook };
    // Built-ins and external plugins (plugins directory): parse, version, duplicates, dependencies, config.
    const loaded = await loadPlugins({
      builtins: builtinPlugins,
      pluginsDir: config.pluginsDir ?? undefined,
      config: pluginConfig,
      disabled: [...disabled],
      hostCapabilities,
      logger,
    });
    checkAborted();
    registerPlugins(services, loaded);
    for (const s of extraServices ?? []) services.register(s);
    const supervisor = createSupervisor(services, { events, logger });
    cleanup.push(() => supervisor.stop());

    // Trust: handshakes on port 444, the store next to the identity file, relay polling.
    const trust =
      wantTrust === false
        ? null
        : createTrustManager({
            streams,
            identity,
            registry,
            storePath: config.identity ? join(dirname(config.identity), 'trust.json') : null,
            dropPeer: (id) => tunnel.removePeer(id),
            invalidatePeer: (id) => resolver.invalidate(id),
            events,
            logger,
          });
    if (trust) {
      await trust.start();
      cleanup.push(() => trust.stop());
    }
    checkAborted();

    // A required service whose start ends on the abort rolls the others back; an optional one is skipped.
    cleanup.push(() => services.stopAll());
    await services.startAll(
      { streams, identity, resolver, events, logger, trust: trust?.checker() },
      { signal },
    );
    checkAborted();

    // Heartbeat, re-registration.
    const heartbeat = startHeartbeat({
      registry,
      config: nodeConfig,
      registration,
      logger,
      events,
      listenAddr: () => nat.registrationAddr(),
      onReregistered: (newId) => {
        if (newId !== nodeId) {
          // A registry that lost its state (no store) may give us another ID: adopt it, or every heartbeat
          // (signed with the old ID) fails for ever. Sessions are keyed anew under the new ID.
          logger.warn({ previous: nodeId, node_id: newId }, 'the registry gave this node a new ID');
          nodeId = newId;
          tunnel.setNodeId(newId);
        }
        void trust?.restoreRegistryTrust();
      },
    });
    cleanup.push(() => heartbeat.stop());

    const startedAt = new Date();
    let ipc: IpcServer | null = null;
    const node: PilotNode = {
      config: nodeConfig,
      registration,
      logger,
      identity,
      keyPair,
      get nodeId() {
        return nodeId;
      },
      get addr() {
        return makeAddr(0, nodeId);
      },
      tunnel,
      streams,
      events,
      services,
      registry,
      resolver,
      registryAddr,
      embeddedRegistry,
      embeddedBeacon,
      get ipc() {
        return ipc;
      },
      trust,
      nat,
      startedAt,
      onDatagram(handler) {
        datagramHandlers.add(handler);
        return () => datagramHandlers.delete(handler);
      },
      stop: async (stopOptions = {}) => {
        const cut = stopOptions.signal;
        logger.info('stopping');
        supervisor.stop();
        await untilAborted(
          services.stopAll().catch((err: unknown) => logger.warn({ err }, 'service stop errors')),
          cut,
          () => logger.warn('services did not stop in time; stopping the node without them'),
        );
        heartbeat.stop();
        await untilAborted(
          trust?.stop().catch((err: unknown) => logger.warn({ err }, 'trust stop failed')),
          cut,
        );
        await untilAborted(finishStreams(streams, 1000), cut);
        try {
          await registry.deregister({ timeoutMs: 2000 });
          events.publish('node.deregistered', { node_id: nodeId });
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'deregister failed');
        }
        await ipc?.close();
        await streams.close();
        nat.close();
        await tunnel.close();
        registry.close();
        await embeddedBeacon?.close();
        await embeddedRegistry?.close();
        // End every subscription (after node.deregistered): for-await loops over node.events finish.
        events.close();
        logger.info('stopped');
      },
    };

    if (wantIpc !== false) {
      ipc = await createIpcServer({
        socketPath: config.socket,
        streams,
        control: createNodeControl(node),
        logger,
      });
      cleanup.push(() => ipc?.close());
    }
    checkAborted();
    logger.info(
      {
        node_id: nodeId,
        address: reg.address,
        tunnel: `${tunnel.address.host}:${tunnel.address.port}`,
        socket: ipc ? config.socket : null,
        aead: aeadBackend(),
      },
      'node started',
    );
    return node;
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Wait for `p`, or only until `signal` aborts (then `onCut` runs once). */
async function untilAborted(
  p: Promise<unknown> | undefined,
  signal: AbortSignal | undefined,
  onCut?: () => void,
): Promise<void> {
  if (!p) return;
  if (!signal) {
    await p;
    return;
  }
  let onAbort: () => void = () => {};
  const cut = new Promise<boolean>((resolve) => {
    onAbort = () => resolve(true);
    if (signal.aborted) resolve(true);
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const wasCut = await Promise.race([p.then(() => false), cut]);
  signal.removeEventListener('abort', onAbort);
  if (wasCut) onCut?.();
}

/** Close established streams gracefully (FIN) and give them `ms` to finish before the stack resets the rest. */
async function finishStreams(streams: StreamStack, ms: number): Promise<void> {
  const open = streams.connections().filter((c) => !c.destroyed && !c.writableEnded);
  for (const c of open) c.end();
  const deadline = Date.now() + ms;
  while (
    Date.now() < deadline &&
    streams.connections().some((c) => c.state === 'ESTABLISHED' || c.state === 'FIN_WAIT')
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

function wireEvents(tunnel: UdpTunnel, streams: StreamStack, events: EventBus): void {
  tunnel.on('peer', (id: number) => events.publish('tunnel.peer_added', { peer_node_id: id }));
  tunnel.on(
    'established',
    (e: { nodeId: number; authenticated: boolean; rekeyed: boolean; relay: boolean }) =>
      events.publish('tunnel.established', {
        peer_node_id: e.nodeId,
        authenticated: e.authenticated,
        rekeyed: e.rekeyed,
        relay: e.relay,
      }),
  );
  tunnel.on('replay', (id: number) => events.publish('security.nonce_replay', { peer_node_id: id }));
  type ConnLike = { remoteAddr: Addr; remotePort: number; localPort: number; id: number };
  const conn = (c: ConnLike): Record<string, unknown> => ({
    conn_id: c.id,
    remote_node: c.remoteAddr.node,
    remote_port: c.remotePort,
    local_port: c.localPort,
  });
  streams.on('syn', (c: ConnLike) => events.publish('conn.syn_received', conn(c)));
  streams.on('established', (c: ConnLike) => events.publish('conn.established', conn(c)));
  streams.on('fin', (c: ConnLike) => events.publish('conn.fin', conn(c)));
  streams.on('rst', (c: ConnLike) => events.publish('conn.rst', conn(c)));
  streams.on('syn-rate-limited', (node: number) =>
    events.publish('security.syn_rate_limited', { peer_node_id: node }),
  );
  streams.on('idle-timeout', (c: { id: number }) => events.publish('conn.idle_timeout', { conn_id: c.id }));
  streams.on('datagram', (d: Datagram) =>
    events.publish('data.datagram', {
      src_node: d.src.node,
      src_port: d.srcPort,
      dst_port: d.dstPort,
      bytes: d.data.length,
    }),
  );
}

interface Heartbeat {
  stop(): void;
}

function startHeartbeat(o: {
  registry: RegistryClient;
  /** The node's effective configuration (read at each re-registration). */
  config: NodeConfig;
  registration: RegistrationState;
  logger: Logger;
  events: EventBus;
  listenAddr: () => string;
  /** After a re-registration, with the node ID the registry answered with. */
  onReregistered: (nodeId: number) => void;
}): Heartbeat {
  let failures = 0;
  let busy = false;
  let stopped = false;
  // A longer keepalive (up to 24 h) must not let the registry reap the node between two heartbeats.
  const intervalMs = Math.min(o.config.keepalive, MAX_HEARTBEAT_INTERVAL_MS);
  const timer = setInterval(async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      await o.registry.heartbeat({ timeoutMs: Math.max(1000, intervalMs / 2) });
      failures = 0;
    } catch (err) {
      failures++;
      o.logger.warn({ failures, err: (err as Error).message }, 'heartbeat failed');
      // A heartbeat in flight when the node stops must not register it again after it deregistered.
      if (failures >= 3 && !stopped) {
        try {
          const r = await o.registry.register({
            listenAddr: o.listenAddr(),
            owner: o.config.owner ?? undefined,
            hostname: o.config.hostname ?? undefined,
          });
          // Adopt the ID first: the calls below are signed with it.
          o.onReregistered(r.node_id);
          keepRegisteredHostname(o.config, r, o.logger);
          if (o.config.public) await o.registry.setVisibility(true);
          await restoreRegistration(o.registry, o.registration, o.logger);
          failures = 0;
          o.events.publish('node.reregistered', { node_id: r.node_id, address: r.address });
          o.logger.info({ node_id: r.node_id }, 're-registered');
        } catch (e) {
          o.logger.warn({ err: (e as Error).message }, 're-registration failed');
        }
      }
    } finally {
      busy = false;
    }
  }, intervalMs);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** A hostname the registry refused (taken) is not the node's: keep the one it has, if any, and say why. */
function keepRegisteredHostname(
  config: NodeConfig,
  reg: { hostname?: string; hostname_error?: string },
  logger: Logger,
): void {
  if (!reg.hostname_error) return;
  logger.warn({ hostname: config.hostname, error: reg.hostname_error }, 'hostname not set');
  (config as { hostname: string | null }).hostname = reg.hostname ?? null;
}

/** Re-apply the tags and task-exec flag a local client set (a re-registered record may have lost them). */
async function restoreRegistration(
  registry: RegistryClient,
  state: RegistrationState,
  logger: Logger,
): Promise<void> {
  try {
    if (state.tags !== null) await registry.setTags(state.tags);
    if (state.taskExec !== null) await registry.setTaskExec(state.taskExec);
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      'cannot restore tags / task execution after re-registration',
    );
  }
}
