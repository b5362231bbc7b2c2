/**
 * Test harness for the built-in plugins: an in-memory network, a real EventBus and, per node, the Deps a
 * plugin gets from the runtime (a PluginScope with a PanicGuard). Everything is torn down with the test.
 */
import fc from 'fast-check';
import { expect, onTestFinished } from 'vitest';
import { makeAddr, type Addr } from '../../src/coreapi/addr.js';
import { PeerNotFoundError, PilotError } from '../../src/coreapi/errors.js';
import type { PilotEvent, Subscription } from '../../src/coreapi/events.js';
import type { Identity } from '../../src/coreapi/identity.js';
import { silentLogger } from '../../src/coreapi/logger.js';
import type { PeerResolver } from '../../src/coreapi/resolver.js';
import type { Deps, Service } from '../../src/coreapi/service.js';
import type { Stream } from '../../src/coreapi/streams.js';
import type { TrustChecker } from '../../src/coreapi/trust.js';
import { createEventBus, type LocalEventBus } from '../../src/runtime/event-bus.js';
import {
  createMemoryNetwork,
  type MemoryNetwork,
  type MemoryStreams,
} from '../../src/runtime/memory-streams.js';
import { PanicGuard } from '../../src/runtime/panic-guard.js';
import { PluginScope, type HostDeps } from '../../src/runtime/plugin-scope.js';

export const NETWORK = 1;

export function nodeAddr(node: number): Addr {
  return makeAddr(NETWORK, node);
}

function identity(addr: Addr): Identity {
  return {
    nodeId: addr.node,
    address: addr,
    publicKey: Buffer.alloc(32),
    sign: () => Buffer.alloc(64),
  };
}

export const noPeersResolver: PeerResolver = {
  resolve: () => Promise.reject(new PeerNotFoundError()),
  resolveHostname: () => Promise.reject(new PeerNotFoundError()),
  listByNetwork: () => Promise.resolve([]),
};

export interface TestNet {
  readonly net: MemoryNetwork;
  readonly bus: LocalEventBus;
  readonly guard: PanicGuard;
  node(n: number): MemoryStreams;
  /** Start `service` on node `n` with Deps built like the runtime's. Stopped when the test ends. */
  start<S extends Service>(service: S, n: number, options?: { trust?: TrustChecker }): Promise<Deps>;
}

/** A fresh network + bus; closed when the test finishes. */
export function testNet(): TestNet {
  const net = createMemoryNetwork();
  const bus = createEventBus({ nodeId: 1 });
  const guard = new PanicGuard({ events: bus, logger: silentLogger });
  onTestFinished(async () => {
    await net.close();
    bus.close();
  });
  return {
    net,
    bus,
    guard,
    node: (n) => net.node(nodeAddr(n)),
    async start(service, n, options = {}) {
      const addr = nodeAddr(n);
      const host: HostDeps = {
        streams: net.node(addr),
        identity: identity(addr),
        resolver: noPeersResolver,
        events: bus,
        logger: silentLogger,
        ...(options.trust ? { trust: options.trust } : {}),
      };
      return startInScope(service, host, guard);
    },
  };
}

/** Start `service` with Deps built from `host` like the runtime's; stopped when the test ends. */
export async function startInScope(service: Service, host: HostDeps, guard: PanicGuard): Promise<Deps> {
  const scope = new PluginScope({ name: service.name, host, config: {}, guard, onFail: () => {} });
  await service.start(scope.deps, new AbortController().signal);
  onTestFinished(async () => {
    await service.stop(AbortSignal.timeout(5000));
    await scope.close();
  });
  return scope.deps;
}

/** Poll `predicate` until true, or fail after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Read a stream to its end. */
export async function readAll(stream: Stream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Collect bus events of `pattern` into an array (for assertions). */
export function collectEvents(
  bus: LocalEventBus,
  pattern: string,
): { events: PilotEvent[]; sub: Subscription } {
  const sub = bus.subscribe(pattern);
  const events: PilotEvent[] = [];
  void (async () => {
    for await (const ev of sub) events.push(ev);
  })();
  onTestFinished(() => sub.unsubscribe());
  return { events, sub };
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandom(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** The shape shared by FrameReader and EventReader. */
export interface IncrementalDecoder<T> {
  push(chunk: Uint8Array): void;
  read(): T | null;
  end(): void;
}

/** Feed `bytes` to a fresh decoder in `pieces` chunks and return everything decoded (end() checked). */
export function decodeChunks<T>(reader: IncrementalDecoder<T>, bytes: Buffer, pieces = 1): T[] {
  const out: T[] = [];
  const step = Math.max(1, Math.ceil(bytes.length / pieces));
  for (let off = 0; off < bytes.length; off += step) {
    reader.push(bytes.subarray(off, off + step));
    for (let item = reader.read(); item; item = reader.read()) out.push(item);
  }
  reader.end();
  return out;
}

/** Random chunks into a decoder: it may reject them, but only ever with a PilotError. */
export function fuzzDecoder(make: () => IncrementalDecoder<unknown>, numRuns = 500): void {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const reader = make();
      try {
        for (const c of chunks) {
          reader.push(c);
          while (reader.read());
        }
        reader.end();
      } catch (err) {
        expect(err).toBeInstanceOf(PilotError);
      }
    }),
    { numRuns },
  );
}
