/** Audit: process plugins that cut their stdout, fail start with a code, or get unencodable events. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPlugins, registerPlugins } from '../../src/runtime/plugin-loader.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { createTestHost, nextEvent, waitFor, type TestHost } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/plugins/', import.meta.url));
const SDK = join(FIXTURES, '_sdk', 'pilot-child.mjs');

// Children written to temp plugin directories (a fixture directory would join the fixtures-scan test).
const CHILDREN: Record<string, string> = {
  // Starts, then closes its stdout but keeps running: a zombie the daemon can no longer talk to.
  'audit-zombie-stdout': `import { closeSync } from 'node:fs';
runPlugin(() => ({
  start(deps) {
    deps.events.publish('audit.zombie.started', { pid: process.pid });
    setTimeout(() => { closeSync(1); setInterval(() => {}, 1000); }, 20);
  },
  stop() {},
}));`,
  // Refuses to start with a coded error, then exits on its own shortly after.
  'audit-start-error': `runPlugin(() => ({
  start() {
    setTimeout(() => process.exit(2), 50);
    const err = new Error('audit: bad config');
    err.code = 'ERR_CONFIG_INVALID';
    throw err;
  },
  stop() {},
}));`,
};

async function pluginDir(name: string): Promise<string> {
  if (!(name in CHILDREN)) return join(FIXTURES, name);
  const root = await mkdtemp(join(tmpdir(), 'pilot-audit-proc-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, name);
  await mkdir(dir);
  const manifest = {
    name,
    version: '1.0.0',
    coreApi: '^1.0.0',
    runtime: 'process',
    command: ['child.mjs'],
    order: 190,
  };
  await writeFile(join(dir, 'plugin.json'), JSON.stringify(manifest));
  await writeFile(
    join(dir, 'child.mjs'),
    `import { runPlugin } from ${JSON.stringify(SDK)};\n${CHILDREN[name]}\n`,
  );
  return dir;
}

let t: TestHost | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await t?.close();
  t = undefined;
});

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function boot(
  names: string[],
  opts: { supervise?: boolean } = {},
): Promise<{ registry: ServiceRegistry; supervisor?: Supervisor; host: TestHost }> {
  const host = createTestHost();
  t = host;
  const result = await loadPlugins({ pluginDirs: await Promise.all(names.map(pluginDir)) });
  expect(result.rejected).toEqual([]);
  const registry = new ServiceRegistry({ logger: host.logger, stopBudgetMs: 3000 });
  registerPlugins(registry, result);
  const supervisor = opts.supervise
    ? new Supervisor(registry, { initialBackoffMs: 5, events: host.bus, logger: host.logger }).start()
    : undefined;
  cleanups.push(async () => {
    supervisor?.stop();
    await registry.stopAll();
  });
  return { registry, host, ...(supervisor ? { supervisor } : {}) };
}

describe('process runtime audit', () => {
  it('a child that closes its stdout but keeps running is failed, killed and restarted', async () => {
    const { registry, host, supervisor } = await boot(['audit-zombie-stdout'], { supervise: true });
    const started = nextEvent(host.bus, 'audit.zombie.started');
    const failed = nextEvent(host.bus, 'plugin.audit-zombie-stdout.failed', 8000);
    await registry.startAll(host.host);
    const pid = (await started).payload.pid as number;
    const restarted = new Promise((res) => supervisor?.once('restarted', res));
    expect((await failed).payload).toMatchObject({ code: 'ERR_PLUGIN_PROCESS' });
    await waitFor(() => !alive(pid), 5000, 'the zombie child to be killed');
    await restarted;
    expect(registry.get('audit-zombie-stdout')).toMatchObject({ restarts: 1 });
  });

  it('a child that answers start with a coded error and exits keeps its code', async () => {
    const { registry, host } = await boot(['audit-start-error']);
    await expect(registry.startAll(host.host)).rejects.toMatchObject({
      code: 'ERR_SERVICE_START',
      cause: expect.objectContaining({ code: 'ERR_CONFIG_INVALID', message: 'audit: bad config' }),
    });
    expect(registry.get('audit-start-error')?.lastError?.code).toBe('ERR_CONFIG_INVALID');
  });

  it('an event whose payload JSON cannot carry is dropped for the child, not a panic of it', async () => {
    const { registry, host } = await boot(['ok-process']);
    const started = nextEvent(host.bus, 'fixture.process.started');
    await registry.startAll(host.host);
    await started;
    // ok-process answers every `fixture.ask` event with `fixture.answer`.
    const first = nextEvent(host.bus, 'fixture.answer');
    host.bus.publish('fixture.ask', { nodeId: 42, big: 1n } as unknown as Record<string, unknown>);
    host.bus.publish('fixture.ask', { nodeId: 42 });
    expect((await first).payload).toMatchObject({ hostname: 'peer42' });
    expect(registry.get('ok-process')).toMatchObject({ state: 'running', panics: 0 });
    // The event flow still works afterwards.
    const second = nextEvent(host.bus, 'fixture.answer');
    host.bus.publish('fixture.ask', { nodeId: 42 });
    expect((await second).payload).toMatchObject({ hostname: 'peer42' });
  });
});
