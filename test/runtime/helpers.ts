/** Test helpers for the runtime tests: a capturing logger, a host built on the memory network, waiting. */
import { makeAddr, type Addr } from '../../src/coreapi/addr.js';
import { PeerNotFoundError } from '../../src/coreapi/errors.js';
import type { PilotEvent } from '../../src/coreapi/events.js';
import type { Identity } from '../../src/coreapi/identity.js';
import type { LogFn, Logger } from '../../src/coreapi/logger.js';
import type { PeerInfo, PeerResolver } from '../../src/coreapi/resolver.js';
import { createEventBus, type LocalEventBus } from '../../src/runtime/event-bus.js';
import {
  createMemoryNetwork,
  type MemoryNetwork,
  type MemoryStreams,
} from '../../src/runtime/memory-streams.js';
import type { HostDeps } from '../../src/runtime/plugin-scope.js';

export interface LogRecord {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A pino-compatible logger that keeps every record. */
export function createCapturingLogger(
  records: LogRecord[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { records: LogRecord[] } {
  const fn =
    (level: string): LogFn =>
    (a: unknown, b?: unknown) => {
      if (typeof a === 'string') records.push({ level, msg: a, fields: { ...bindings } });
      else
        records.push({
          level,
          msg: String(b ?? ''),
          fields: { ...bindings, ...(a as Record<string, unknown>) },
        });
    };
  return {
    records,
    trace: fn('trace'),
    debug: fn('debug'),
    info: fn('info'),
    warn: fn('warn'),
    error: fn('error'),
    child: (more) => createCapturingLogger(records, { ...bindings, ...more }),
  };
}

export function testIdentity(address: Addr): Identity {
  return {
    nodeId: address.node,
    address,
    publicKey: Buffer.alloc(32, 7),
    sign: (m) => Buffer.alloc(64, m.length & 0xff),
  };
}

export function testResolver(peers: PeerInfo[] = []): PeerResolver {
  return {
    resolve: async (nodeId) => {
      const p = peers.find((x) => x.nodeId === nodeId);
      if (!p) throw new PeerNotFoundError(undefined, { details: { nodeId } });
      return p;
    },
    resolveHostname: async (name) => {
      const p = peers.find((x) => x.hostname === name);
      if (!p) throw new PeerNotFoundError();
      return p.nodeId;
    },
    listByNetwork: async (net) => peers.filter((p) => p.addr.network === net),
  };
}

export interface TestHost {
  host: HostDeps;
  net: MemoryNetwork;
  node: MemoryStreams;
  bus: LocalEventBus;
  logger: Logger & { records: LogRecord[] };
  addr: Addr;
  close(): Promise<void>;
}

export function createTestHost(node = 0x10): TestHost {
  const net = createMemoryNetwork();
  const addr = makeAddr(1, node);
  const bus = createEventBus({ nodeId: node });
  const logger = createCapturingLogger();
  const streams = net.node(addr);
  const host: HostDeps = {
    streams,
    identity: testIdentity(addr),
    resolver: testResolver([
      {
        nodeId: 42,
        addr: makeAddr(1, 42),
        endpoint: null,
        publicKey: Buffer.alloc(32, 1),
        public: true,
        relayOnly: false,
        hostname: 'peer42',
      },
    ]),
    events: bus,
    logger,
  };
  return { host, net, node: streams, bus, logger, addr, close: () => net.close().then(() => bus.close()) };
}

/** Poll `predicate` (each macrotask) until true or the deadline. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with the first event matching `topic` published after the call. */
export async function nextEvent(bus: LocalEventBus, topic: string, timeoutMs = 5000): Promise<PilotEvent> {
  const sub = bus.subscribe(topic);
  try {
    return await sub.next({ signal: AbortSignal.timeout(timeoutMs) });
  } finally {
    sub.unsubscribe();
  }
}
