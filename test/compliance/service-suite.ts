/**
 * The Service compliance suite: what every plugin (built-in, esm or process) must do to be a good citizen of
 * the runtime. Run it for each plugin:
 *
 *   runServiceSuite('echo', (config) => new EchoService(config), { config: { port: 7 } });
 *
 * The service is started with Deps built by the real runtime (`PluginScope`) over an in-memory network.
 * Checked: a valid name/order, start within the start budget without panics, a valid health answer, stop
 * within the stop budget releasing everything it opened through `deps` (listeners, streams, datagram
 * sockets, subscriptions, background tasks), `stop` tolerated without a completed start, and a fresh
 * instance starting again on the same host afterwards (ports freed, no leftover global state).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { silentLogger } from '../../src/coreapi/logger.js';
import type { Service } from '../../src/coreapi/service.js';
import type { TrustChecker } from '../../src/coreapi/trust.js';
import { runWithBudget } from '../../src/runtime/budget.js';
import { createEventBus, type LocalEventBus } from '../../src/runtime/event-bus.js';
import { createMemoryNetwork, type MemoryNetwork } from '../../src/runtime/memory-streams.js';
import { PanicGuard } from '../../src/runtime/panic-guard.js';
import { PluginScope, type HostDeps } from '../../src/runtime/plugin-scope.js';

export interface ServiceSuiteOptions {
  readonly config?: Readonly<Record<string, unknown>>;
  /** Default 10,000 ms. */
  readonly startBudgetMs?: number;
  /** Default 5,000 ms (the contract's stop budget). */
  readonly stopBudgetMs?: number;
  readonly trust?: TrustChecker;
}

export type ServiceFactory = (config: Readonly<Record<string, unknown>>) => Service | Promise<Service>;

interface Harness {
  net: MemoryNetwork;
  bus: LocalEventBus;
  host: HostDeps;
  guard: PanicGuard;
}

function harness(trust?: TrustChecker): Harness {
  const net = createMemoryNetwork();
  const addr = makeAddr(1, 0x100);
  const bus = createEventBus({ nodeId: 0x100 });
  const host: HostDeps = {
    streams: net.node(addr),
    identity: { nodeId: 0x100, address: addr, publicKey: Buffer.alloc(32, 3), sign: () => Buffer.alloc(64) },
    resolver: {
      resolve: () => Promise.reject(Object.assign(new Error('not found'), { code: 'ERR_PEER_NOT_FOUND' })),
      resolveHostname: () =>
        Promise.reject(Object.assign(new Error('not found'), { code: 'ERR_PEER_NOT_FOUND' })),
      listByNetwork: async () => [],
    },
    events: bus,
    logger: silentLogger,
    ...(trust ? { trust } : {}),
  };
  return { net, bus, host, guard: new PanicGuard({ events: bus }) };
}

export function runServiceSuite(
  name: string,
  factory: ServiceFactory,
  options: ServiceSuiteOptions = {},
): void {
  const config = options.config ?? {};
  const startBudget = options.startBudgetMs ?? 10_000;
  const stopBudget = options.stopBudgetMs ?? 5_000;

  describe(`Service compliance: ${name}`, () => {
    let h: Harness;
    const scopes: PluginScope[] = [];
    const failures: Error[] = [];

    function scopeFor(s: Service): PluginScope {
      const scope = new PluginScope({
        name: s.name,
        host: h.host,
        config,
        guard: h.guard,
        onFail: (e) => failures.push(e),
      });
      scopes.push(scope);
      return scope;
    }

    async function start(s: Service, scope: PluginScope): Promise<void> {
      await runWithBudget(
        startBudget,
        undefined,
        () => new Error(`start exceeded ${startBudget} ms`),
        (signal) => s.start(scope.deps, signal),
      );
    }

    async function stop(s: Service, scope: PluginScope): Promise<void> {
      scope.abortTasks();
      await runWithBudget(
        stopBudget,
        undefined,
        () => new Error(`stop exceeded ${stopBudget} ms`),
        (signal) => s.stop(signal),
      );
    }

    afterEach(async () => {
      for (const s of scopes.splice(0)) await s.close();
      await h?.net.close();
      h?.bus.close();
      failures.length = 0;
    });

    it('has a lowercase kebab-case name and a finite order', async () => {
      h = harness(options.trust);
      const s = await factory(config);
      expect(s.name).toMatch(/^[a-z][a-z0-9-]{0,63}$/);
      expect(Number.isFinite(s.order)).toBe(true);
      for (const list of [s.provides ?? [], s.requires ?? []])
        expect(list.every((c) => typeof c === 'string')).toBe(true);
    });

    it('starts within the start budget without panics, and answers health', async () => {
      h = harness(options.trust);
      const s = await factory(config);
      const scope = scopeFor(s);
      await start(s, scope);
      if (s.health) {
        const r = await s.health();
        expect(['ok', 'degraded', 'failed']).toContain(r.status);
      }
      expect(h.guard.total).toBe(0);
      expect(failures).toEqual([]);
      await stop(s, scope);
    });

    it('stops within the stop budget and releases everything it opened through deps', async () => {
      h = harness(options.trust);
      const s = await factory(config);
      const scope = scopeFor(s);
      await start(s, scope);
      await stop(s, scope);
      const deadline = Date.now() + 2000;
      while (scope.resources().tasks > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(scope.resources()).toEqual({
        listeners: 0,
        streams: 0,
        datagramSockets: 0,
        subscriptions: 0,
        tasks: 0,
      });
      expect(h.guard.total).toBe(0);
    });

    it('tolerates stop() without a completed start', async () => {
      h = harness(options.trust);
      const s = await factory(config);
      await expect(
        runWithBudget(
          stopBudget,
          undefined,
          () => new Error('stop timed out'),
          (signal) => s.stop(signal),
        ),
      ).resolves.not.toThrow();
    });

    it('starts a fresh instance on the same host after stopping the first', async () => {
      h = harness(options.trust);
      const first = await factory(config);
      const s1 = scopeFor(first);
      await start(first, s1);
      await stop(first, s1);
      await s1.close();
      const second = await factory(config);
      const s2 = scopeFor(second);
      await start(second, s2);
      await stop(second, s2);
      expect(h.guard.total).toBe(0);
    });
  });
}
