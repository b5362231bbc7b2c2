import { afterEach, describe, expect, it } from 'vitest';
import { ServiceState } from '../../src/coreapi/lifecycle.js';
import type { Deps, Service } from '../../src/coreapi/service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { createTestHost, nextEvent, waitFor, type TestHost } from './helpers.js';

let t: TestHost;
let registry: ServiceRegistry;
let supervisor: Supervisor;

function setup(opts: ConstructorParameters<typeof Supervisor>[1] = {}): void {
  t = createTestHost();
  registry = new ServiceRegistry({ stopBudgetMs: 200, startBudgetMs: 1000, logger: t.logger });
  supervisor = new Supervisor(registry, { initialBackoffMs: 5, events: t.bus, logger: t.logger, ...opts });
  supervisor.start();
}

afterEach(async () => {
  supervisor?.stop();
  await registry?.stopAll().catch(() => {});
  await t?.close();
});

/** A factory-registered service; `instances` records every instance's deps. */
function factoryService(
  name: string,
  onStart: (deps: Deps, n: number) => unknown,
  extra: Partial<Service> = {},
): { instances: Deps[] } {
  const instances: Deps[] = [];
  registry.registerDescriptor({
    name,
    order: 100,
    origin: 'builtin',
    create: () => ({
      name,
      order: 100,
      start: async (deps) => {
        instances.push(deps);
        await onStart(deps, instances.length);
      },
      stop: () => {},
      ...extra,
    }),
  });
  return { instances };
}

describe('Supervisor', () => {
  it('restarts a failed service with a fresh instance and closes what the old one left open', async () => {
    setup();
    const { instances } = factoryService('echoish', async (deps) => {
      const l = await deps.streams.listen(7);
      void deps.tasks.run('accept', async () => {
        for await (const s of l) s.pipe(s);
      });
    });
    await registry.startAll(t.host);
    const restarted = new Promise((res) => supervisor.once('restarted', res));
    instances[0].tasks.fail(new Error('upstream lost'));
    await restarted;
    expect(instances).toHaveLength(2);
    expect(instances[0].tasks.signal.aborted).toBe(true);
    expect(registry.get('echoish')).toMatchObject({
      state: ServiceState.Running,
      restarts: 1,
      lastError: null,
    });
    // The new instance owns port 7 again and serves.
    const client = await t.net.node({ network: 1, node: 2 }).dial(t.addr, 7);
    client.end('ping');
    const chunks: Buffer[] = [];
    for await (const c of client) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('ping');
  });

  it('restarts an unhealthy service after its third panic and resets its panic count', async () => {
    setup();
    const { instances } = factoryService('crashy', () => {});
    await registry.startAll(t.host);
    const unhealthy = nextEvent(t.bus, 'plugin.crashy.unhealthy');
    const restarted = nextEvent(t.bus, 'plugin.crashy.restarted');
    const boom = instances[0].tasks.guard('handler', () => {
      throw new Error('boom');
    });
    boom();
    boom();
    expect(registry.get('crashy')?.state).toBe('running');
    boom();
    expect((await unhealthy).payload).toMatchObject({ plugin_panics: 3 });
    await restarted;
    expect(instances).toHaveLength(2);
    expect(registry.get('crashy')).toMatchObject({
      state: 'running',
      panics: 0,
      totalPanics: 3,
      restarts: 1,
    });
  });

  it('restarts a service that became unhealthy while startAll was still running', async () => {
    setup();
    const { instances } = factoryService('early-panic', (deps, n) => {
      if (n === 1)
        for (let i = 0; i < 3; i++) deps.tasks.guard('start-handler', () => Promise.reject(new Error('x')))();
    });
    registry.register({
      name: 'later',
      order: 200,
      start: () => new Promise((r) => setImmediate(r)),
      stop: () => {},
    });
    const restarted = new Promise((res) => supervisor.once('restarted', res));
    await registry.startAll(t.host);
    expect(await restarted).toBe('early-panic');
    expect(instances).toHaveLength(2);
    expect(registry.get('early-panic')).toMatchObject({ state: 'running', panics: 0, totalPanics: 3 });
  });

  it('backs off exponentially and gives up after the restart budget', async () => {
    setup({ initialBackoffMs: 5, factor: 2, maxRestarts: 3, windowMs: 60_000 });
    factoryService('doomed', (deps, n) => {
      if (n > 1) throw new Error(`start ${n} failed`);
      setImmediate(() => deps.tasks.fail(new Error('died')));
    });
    const delays: number[] = [];
    supervisor.on('restarting', (_name: string, _attempt: number, delay: number) => delays.push(delay));
    const abandoned = nextEvent(t.bus, 'plugin.doomed.abandoned');
    await registry.startAll(t.host);
    expect((await abandoned).payload).toMatchObject({ plugin: 'doomed', restarts: 3 });
    expect(delays).toEqual([5, 10, 20]);
    expect(supervisor.abandoned('doomed')).toBe(true);
    expect(registry.get('doomed')).toMatchObject({ state: 'failed', restarts: 3 });
  });

  it('restarts an optional service that failed to start, but never a dependency failure', async () => {
    setup();
    let attempts = 0;
    registry.registerDescriptor({
      name: 'flaky',
      order: 10,
      optional: true,
      create: () => ({
        name: 'flaky',
        order: 10,
        optional: true,
        start: () => {
          attempts++;
          if (attempts === 1) throw new Error('first start fails');
        },
        stop: () => {},
      }),
    });
    registry.register({
      name: 'orphan',
      order: 20,
      optional: true,
      requires: ['nothing'],
      start: () => {},
      stop: () => {},
    });
    const restarted = new Promise((res) => supervisor.once('restarted', res));
    await registry.startAll(t.host);
    expect(await restarted).toBe('flaky');
    expect(registry.get('flaky')?.state).toBe('running');
    expect(registry.get('orphan')).toMatchObject({ state: 'failed', restarts: 0 });
  });

  it('restarts a service whose health probe reports failed', async () => {
    setup({ healthIntervalMs: 10 });
    let healthy = true;
    const { instances } = factoryService('probed', () => {}, {
      health: () => ({ status: healthy ? 'ok' : 'failed' }),
    });
    await registry.startAll(t.host);
    const restarted = new Promise((res) => supervisor.once('restarted', res));
    healthy = false;
    await restarted;
    healthy = true;
    expect(instances.length).toBeGreaterThanOrEqual(2);
  });

  it('does not restart anything once stopped', async () => {
    setup({ initialBackoffMs: 50 });
    const { instances } = factoryService('late', () => {});
    await registry.startAll(t.host);
    const restarting = new Promise((res) => supervisor.once('restarting', res));
    instances[0].tasks.fail(new Error('x'));
    await restarting;
    supervisor.stop();
    await registry.stopAll();
    await new Promise((r) => setTimeout(r, 80));
    await waitFor(() => registry.get('late')?.state === 'failed');
    expect(instances).toHaveLength(1);
  });
});
