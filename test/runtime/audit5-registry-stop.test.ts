/** Audit 5: stopAll against a supervisor restart that hangs, and two stopAll calls at once. */
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceState } from '../../src/coreapi/lifecycle.js';
import type { Deps, Service } from '../../src/coreapi/service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { createTestHost, waitFor, type TestHost } from './helpers.js';

let t: TestHost | undefined;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await t?.close();
  t = undefined;
});

describe('registry stop audit', () => {
  it('stopAll aborts a supervisor restart whose start hangs instead of waiting for the start budget', async () => {
    t = createTestHost();
    // A long start budget: without the fix stopAll waits for it to run out.
    const registry = new ServiceRegistry({ startBudgetMs: 20_000, stopBudgetMs: 300 });
    let starts = 0;
    let deps: Deps | undefined;
    let abortedStart = false;
    const svc: Service = {
      name: 'hangs-on-restart',
      order: 100,
      start(d, signal) {
        starts++;
        deps = d;
        if (starts === 1) return;
        signal.addEventListener('abort', () => (abortedStart = true));
        return new Promise<void>(() => {}); // never resolves, ignores its signal
      },
      stop() {},
    };
    registry.register(svc);
    const supervisor = new Supervisor(registry, { initialBackoffMs: 1 }).start();
    cleanups.push(() => supervisor.stop());
    await registry.startAll(t.host);
    deps?.tasks.fail(new Error('audit: runtime failure'));
    await waitFor(
      () => starts === 2 && registry.get('hangs-on-restart')?.state === ServiceState.Starting,
      3000,
      'the restart to hang in start',
    );
    supervisor.stop();
    const t0 = Date.now();
    await registry.stopAll();
    const took = Date.now() - t0;
    expect(took).toBeLessThan(3000);
    expect(abortedStart).toBe(true);
    expect(registry.get('hangs-on-restart')?.state).toBe(ServiceState.Failed);
  });

  it('a second concurrent stopAll resolves only once every service has stopped', async () => {
    t = createTestHost();
    const registry = new ServiceRegistry({ stopBudgetMs: 2000 });
    const stopped: string[] = [];
    let releaseA: (() => void) | undefined;
    const mk = (name: string, order: number, slow: boolean): Service => ({
      name,
      order,
      start() {},
      async stop() {
        if (slow) await new Promise<void>((res) => (releaseA = res));
        stopped.push(name);
      },
    });
    registry.register(mk('low', 10, false));
    registry.register(mk('high', 20, true));
    await registry.startAll(t.host);
    const first = registry.stopAll();
    await waitFor(() => releaseA !== undefined, 2000, 'high to be stopping');
    let secondDone = false;
    const second = registry.stopAll().then(() => (secondDone = true));
    // Let the second call run as far as it can while "high" is still stopping.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // Reverse order: "low" must not be stopped while "high" still is, and nobody is done yet.
    expect(stopped).toEqual([]);
    expect(secondDone).toBe(false);
    releaseA?.();
    await Promise.all([first, second]);
    expect(stopped).toEqual(['high', 'low']);
    expect(registry.get('low')?.state).toBe(ServiceState.Stopped);
    expect(registry.get('high')?.state).toBe(ServiceState.Stopped);
  });
});

describe('registry stop during startAll', () => {
  it('stopAll while startAll hangs in a start aborts it, rolls back, and starts nothing more', async () => {
    t = createTestHost();
    const registry = new ServiceRegistry({ startBudgetMs: 20_000, stopBudgetMs: 300 });
    const log: string[] = [];
    const mk = (name: string, order: number, hang: boolean): Service => ({
      name,
      order,
      start() {
        log.push(`start ${name}`);
        if (hang) return new Promise<void>(() => {});
      },
      stop() {
        log.push(`stop ${name}`);
      },
    });
    registry.register(mk('first', 10, false));
    registry.register(mk('hangs', 20, true));
    registry.register(mk('later', 30, false));
    const starting = registry.startAll(t.host);
    const startResult = starting.then(
      () => null,
      (err: unknown) => err,
    );
    await waitFor(() => log.includes('start hangs'), 2000, 'the hanging start');
    const t0 = Date.now();
    await registry.stopAll();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await startResult).toMatchObject({ code: 'ERR_SERVICE_START' });
    // The aborted start still gets its best-effort stop (it must tolerate a partial start), then the rollback.
    expect(log).toEqual(['start first', 'start hangs', 'stop hangs', 'stop first']);
    expect(registry.get('later')?.state).toBe(ServiceState.Registered);
  });
});

describe('runtime failure during stopAll', () => {
  it('stopAll waits for the release of a service that failed while others were stopping', async () => {
    t = createTestHost();
    const registry = new ServiceRegistry({ stopBudgetMs: 2000 });
    let depsA: Deps | undefined;
    let aStopped = false;
    registry.register({
      name: 'a-low',
      order: 10,
      start(d) {
        depsA = d;
      },
      async stop() {
        await new Promise((r) => setTimeout(r, 150));
        aStopped = true;
      },
    });
    registry.register({
      name: 'b-high',
      order: 20,
      async stop() {
        // Stopping b breaks a, which fails at runtime while stopAll is still busy with b.
        depsA?.tasks.fail(new Error('audit: lost b'));
        await new Promise((r) => setTimeout(r, 10));
      },
      start() {},
    });
    await registry.startAll(t.host);
    await registry.stopAll();
    expect(aStopped).toBe(true);
    expect(registry.get('a-low')?.resources).toMatchObject({ listeners: 0, streams: 0, subscriptions: 0 });
  });
});
