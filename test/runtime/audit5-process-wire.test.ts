/** Audit 5: answers in the JSON-RPC style `{"result": ..., "error": null}` are successes, not errors. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessService } from '../../src/runtime/process-service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { createTestHost, type TestHost } from './helpers.js';
import { ndjsonChild } from './ndjson-child.js';

// Answers every request with `error: null` next to its result (as many JSON-RPC encoders do).
const CHILD = ndjsonChild(`if (m.id === undefined || !m.method) continue;
    const result = m.method === 'health' ? { status: 'degraded', message: 'audit5' } : m.method === 'ping' ? { payload: m.params.payload } : {};
    send({ id: m.id, result, error: null });`);

// Exits as soon as it is asked to stop, without answering: it did stop.
const EXITS_ON_STOP = ndjsonChild(
  `if (m.method === 'stop') process.exit(0);
    if (m.id !== undefined && m.method) send({ id: m.id, result: {} });`,
  { onEnd: null },
);

let t: TestHost | undefined;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
  await t?.close();
  t = undefined;
});

async function boot(source: string): Promise<{ registry: ServiceRegistry; svc: ProcessService }> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-audit5-wire-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'child.mjs'), source);
  t = createTestHost();
  const svc = new ProcessService({ name: 'audit5-wire', order: 100, command: ['child.mjs'], cwd: dir });
  const registry = new ServiceRegistry({ logger: t.logger, stopBudgetMs: 2000 });
  registry.register(svc);
  cleanups.push(() => registry.stopAll());
  await registry.startAll(t.host);
  return { registry, svc };
}

describe('process wire audit', () => {
  it('a child that exits on stop without answering has stopped (not a stop error)', async () => {
    const { registry, svc } = await boot(EXITS_ON_STOP);
    const pid = svc.pid;
    expect(pid).toBeDefined();
    await expect(registry.stopAll()).resolves.toBeUndefined();
    expect(registry.get('audit5-wire')?.state).toBe('stopped');
    expect(svc.pid).toBeUndefined();
  });

  it('a response with "error": null is a success', async () => {
    const { registry, svc } = await boot(CHILD);
    expect(registry.get('audit5-wire')?.state).toBe('running');
    await expect(svc.health()).resolves.toEqual({ status: 'degraded', message: 'audit5' });
    await expect(svc.ping('x')).resolves.toEqual({ payload: 'x' });
    await registry.stopAll();
    expect(registry.get('audit5-wire')?.state).toBe('stopped');
  });

  it('a request whose params cannot be encoded rejects and is not left pending', async () => {
    const { svc } = await boot(CHILD);
    await expect(svc.ping(10n)).rejects.toMatchObject({ code: 'ERR_PLUGIN_PROTOCOL' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(svc.ping(cyclic)).rejects.toMatchObject({ code: 'ERR_PLUGIN_PROTOCOL' });
    expect(svc.channelStats?.pendingRequests).toBe(0);
    await expect(svc.ping('still works')).resolves.toEqual({ payload: 'still works' });
  });
});
