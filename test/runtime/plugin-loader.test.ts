import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { BuiltinPlugin } from '../../src/coreapi/plugin.js';
import type { Service } from '../../src/coreapi/service.js';
import { loadPlugins, registerPlugins } from '../../src/runtime/plugin-loader.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { readAll } from '../compliance/streams-suite.js';
import { createTestHost, nextEvent, waitFor, type TestHost } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/plugins/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);

const temps: string[] = [];
async function tempPlugin(
  name: string,
  manifest: Record<string, unknown>,
  files: Record<string, string> = {},
): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pilot-plugins-'));
  temps.push(root);
  const dir = join(root, name);
  await mkdir(dir);
  await writeFile(join(dir, 'plugin.json'), JSON.stringify(manifest));
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  return dir;
}

function manifest(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    version: '1.0.0',
    coreApi: '^1.0.0',
    runtime: 'esm',
    entry: 'index.mjs',
    order: 100,
    ...extra,
  };
}

function builtin(
  name: string,
  order: number,
  extra: Partial<Service> = {},
  b: Partial<BuiltinPlugin> = {},
): BuiltinPlugin {
  return {
    name,
    create: (config) => ({ name, order, start: () => {}, stop: () => {}, config, ...extra }) as Service,
    ...b,
  };
}

let t: TestHost | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await t?.close();
  t = undefined;
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('plugin loader: checks', () => {
  it('scans the fixtures directory and rejects each bad fixture with its code', async () => {
    const r = await loadPlugins({
      pluginsDir: FIXTURES,
      builtins: [builtin('core-thing', 10, { provides: ['base'] })],
    });
    expect(r.plugins.map((p) => p.name).sort()).toEqual(
      [
        'core-thing',
        'crashing-process',
        'fails-on-start',
        'ok-esm',
        'ok-process',
        'slow-stop',
        'throws-in-background',
      ].sort(),
    );
    const rejected = Object.fromEntries(r.rejected.map((x) => [x.dir?.split('/').pop(), x.error.code]));
    expect(rejected).toEqual({
      'bad-manifest': 'ERR_PLUGIN_MANIFEST',
      'bad-version': 'ERR_PLUGIN_INCOMPATIBLE',
      'ok-esm-duplicate': 'ERR_SERVICE_DUPLICATE',
      'needs-missing-capability': 'ERR_SERVICE_DEPENDENCY',
    });
    const ok = r.plugins.find((p) => p.name === 'ok-esm');
    expect(ok).toMatchObject({ origin: 'esm', config: { port: 7070, prefix: 'ok:' } });
    expect(ok?.manifest?.version).toBe('1.2.0');
    expect(r.plugins.find((p) => p.name === 'ok-process')?.origin).toBe('process');
  });

  it('runs the checks in order: version before duplicates before dependencies before config', async () => {
    const first = await tempPlugin('first', manifest('dup', { provides: ['x'] }));
    const badVersionAndDup = await tempPlugin('v', manifest('dup', { coreApi: '>=5' }));
    const dupAndMissingDep = await tempPlugin('d', manifest('dup', { requires: ['nothing'] }));
    const depAndBadConfig = await tempPlugin(
      'c',
      manifest('needy', { requires: ['nothing'], configSchema: { type: 'object', required: ['must'] } }),
    );
    const r = await loadPlugins({ pluginDirs: [first, badVersionAndDup, dupAndMissingDep, depAndBadConfig] });
    expect(r.plugins.map((p) => p.name)).toEqual(['dup']);
    expect(r.rejected.map((x) => [x.dir, x.error.code])).toEqual([
      [badVersionAndDup, 'ERR_PLUGIN_INCOMPATIBLE'],
      [dupAndMissingDep, 'ERR_SERVICE_DUPLICATE'],
      [depAndBadConfig, 'ERR_SERVICE_DEPENDENCY'],
    ]);
  });

  it('validates config against the JSON Schema and lists the failing paths', async () => {
    const r = await loadPlugins({
      pluginDirs: [fixture('ok-esm'), fixture('throws-in-background')],
      config: { 'ok-esm': { port: 'seven', extra: true }, 'throws-in-background': { panics: -1 } },
    });
    expect(r.plugins).toEqual([]);
    const err = r.rejected.find((x) => x.name === 'ok-esm')?.error as unknown as {
      code: string;
      errors: { path: string }[];
    };
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.errors.map((e) => e.path).sort()).toEqual(['/', '/port']);
    expect(r.rejected.find((x) => x.name === 'throws-in-background')?.error.code).toBe('ERR_CONFIG_INVALID');
  });

  it('rejects dependants of rejected providers (to a fixpoint) and providers that start later', async () => {
    const a = await tempPlugin('a', manifest('a', { order: 10, provides: ['x'], requires: ['missing'] }));
    const b = await tempPlugin('b', manifest('b', { order: 20, provides: ['y'], requires: ['x'] }));
    const c = await tempPlugin('c', manifest('c', { order: 30, requires: ['y'] }));
    const early = await tempPlugin('e', manifest('early', { order: 5, requires: ['late-cap'] }));
    const late = await tempPlugin('l', manifest('late', { order: 50, provides: ['late-cap'] }));
    const hosted = await tempPlugin('h', manifest('hosted', { requires: ['streams'] }));
    const r = await loadPlugins({
      pluginDirs: [a, b, c, early, late, hosted],
      hostCapabilities: ['streams'],
    });
    expect(r.plugins.map((p) => p.name).sort()).toEqual(['hosted', 'late']);
    expect(r.rejected.map((x) => x.name).sort()).toEqual(['a', 'b', 'c', 'early']);
    expect(r.rejected.every((x) => x.error.code === 'ERR_SERVICE_DEPENDENCY')).toBe(true);
  });

  it('checks built-ins: config schema, factory name, duplicates (built-ins win), disabled', async () => {
    const schema = { type: 'object', properties: { port: { type: 'integer', default: 5 } } };
    const ext = await tempPlugin('x', manifest('echo'));
    const r = await loadPlugins({
      builtins: [
        builtin('echo', 100, {}, { configSchema: schema }),
        builtin('echo', 101),
        builtin('liar', 100, { name: 'other' } as Partial<Service>),
        builtin('strict', 100, {}, { configSchema: { type: 'object', required: ['key'] } }),
        builtin('off', 100),
      ],
      pluginDirs: [ext],
      disabled: ['off'],
    });
    expect(r.plugins.map((p) => p.name)).toEqual(['echo']);
    expect(r.plugins[0].config).toEqual({ port: 5 });
    expect(r.rejected.map((x) => [x.name, x.error.code])).toEqual([
      ['liar', 'ERR_PLUGIN_LOAD'],
      ['strict', 'ERR_CONFIG_INVALID'],
      ['echo', 'ERR_SERVICE_DUPLICATE'],
      ['echo', 'ERR_SERVICE_DUPLICATE'],
    ]);
  });

  it('refuses manifests with bad fields or paths leaving the plugin directory', async () => {
    const escape = await tempPlugin('esc', manifest('esc', { entry: '../../etc/passwd' }));
    const noEntry = await tempPlugin('ne', manifest('ne', { entry: undefined }));
    const badName = await tempPlugin('bn', manifest('Bad_Name'));
    const badSemver = await tempPlugin('bs', manifest('bs', { version: 'one' }));
    const badSchema = await tempPlugin('sc', manifest('sc', { configSchema: { type: 'no-such-type' } }));
    const notJson = await tempPlugin('nj', {});
    await writeFile(join(notJson, 'plugin.json'), '{ "name": "nj", ');
    const missing = join(temps[0], 'does-not-exist');
    const r = await loadPlugins({
      pluginDirs: [escape, noEntry, badName, badSemver, badSchema, notJson, missing],
    });
    expect(r.plugins).toEqual([]);
    expect(r.rejected.map((x) => x.error.code)).toEqual(Array(7).fill('ERR_PLUGIN_MANIFEST'));
    expect(r.rejected[5].error.message).toContain('not valid JSON');
  });
});

describe('plugin loader: running plugins', () => {
  async function boot(
    dirs: string[],
    opts: {
      config?: Record<string, Record<string, unknown>>;
      stopBudgetMs?: number;
      supervise?: boolean;
    } = {},
  ): Promise<{ registry: ServiceRegistry; supervisor?: Supervisor }> {
    t = createTestHost();
    const host = t;
    const result = await loadPlugins({ pluginDirs: dirs, config: opts.config, logger: host.logger });
    expect(result.rejected).toEqual([]);
    const registry = new ServiceRegistry({ logger: host.logger, stopBudgetMs: opts.stopBudgetMs ?? 2000 });
    registerPlugins(registry, result);
    let supervisor: Supervisor | undefined;
    if (opts.supervise)
      supervisor = new Supervisor(registry, { initialBackoffMs: 5, events: host.bus }).start();
    cleanups.push(async () => {
      supervisor?.stop();
      await registry.stopAll();
    });
    return { registry, ...(supervisor ? { supervisor } : {}) };
  }

  it('imports an esm plugin at start and serves through the memory network', async () => {
    const { registry } = await boot([fixture('ok-esm')], { config: { 'ok-esm': { prefix: 'hi:' } } });
    const started = nextEvent((t as TestHost).bus, 'ok-esm.started');
    await registry.startAll((t as TestHost).host);
    expect((await started).payload).toEqual({ port: 7070 });
    expect(registry.get('ok-esm')).toMatchObject({
      state: 'running',
      origin: 'esm',
      version: '1.2.0',
      provides: ['greeting'],
    });
    const s = await (t as TestHost).net.node({ network: 1, node: 3 }).dial((t as TestHost).addr, 7070);
    s.end('there');
    expect((await readAll(s)).toString()).toBe('hi:there');
    expect((await registry.health())['ok-esm']).toEqual({ status: 'ok', details: { served: 1 } });
  });

  it('fails-on-start: startAll rejects naming it, and the port it bound is released', async () => {
    const { registry } = await boot([fixture('ok-esm'), fixture('fails-on-start')]);
    const err = await registry.startAll((t as TestHost).host).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_SERVICE_START', service: 'fails-on-start', rolledBack: [] });
    expect(registry.get('ok-esm')?.state).toBe('registered');
    const l = await (t as TestHost).node.listen(7100);
    await l.close();
  });

  it('slow-stop: the stop budget is enforced and reported, and its port released', async () => {
    const { registry } = await boot([fixture('ok-esm'), fixture('slow-stop')], { stopBudgetMs: 50 });
    await registry.startAll((t as TestHost).host);
    const err = await registry.stopAll().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_SERVICE_STOP', overran: ['slow-stop'] });
    expect(registry.get('ok-esm')?.state).toBe('stopped');
    const l = await (t as TestHost).node.listen(7200);
    await l.close();
  });

  it('throws-in-background: panics are contained, counted, and the supervisor restarts it', async () => {
    const runId = `run-${Math.random()}`;
    const { registry, supervisor } = await boot([fixture('throws-in-background'), fixture('ok-esm')], {
      config: { 'throws-in-background': { runId } },
      supervise: true,
    });
    const host = t as TestHost;
    const panics = host.bus.subscribe('plugin.throws-in-background.*');
    const restarted = new Promise((res) => supervisor?.once('restarted', res));
    await registry.startAll(host.host);
    expect(await restarted).toBe('throws-in-background');
    const topics: string[] = [];
    for (;;) {
      const e = await panics.next({ signal: AbortSignal.timeout(5000) });
      topics.push(e.topic.split('.').pop() as string);
      if (topics.includes('restarted')) break;
    }
    panics.unsubscribe();
    expect(topics.filter((x) => x === 'panic')).toHaveLength(3);
    expect(topics).toContain('unhealthy');
    await waitFor(() => registry.get('throws-in-background')?.state === 'running');
    expect(registry.get('throws-in-background')).toMatchObject({ panics: 0, totalPanics: 3, restarts: 1 });
    expect(registry.guard?.total).toBe(3);
    // The other plugin never noticed.
    expect(registry.get('ok-esm')).toMatchObject({ state: 'running', restarts: 0 });
  });

  it('reports a module without createService as ERR_PLUGIN_LOAD at start', async () => {
    const dir = await tempPlugin('nf', manifest('no-factory', { optional: true }), {
      'index.mjs': 'export const x = 1;\n',
    });
    const { registry } = await boot([dir]);
    await registry.startAll((t as TestHost).host);
    expect(registry.get('no-factory')?.lastError?.code).toBe('ERR_PLUGIN_LOAD');
  });
});
