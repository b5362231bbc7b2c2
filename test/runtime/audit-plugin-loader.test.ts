/** Audit: hostile or unusual manifests are rejected (never a crash), and rejections reach dependants. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPlugins, registerPlugins } from '../../src/runtime/plugin-loader.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { createTestHost } from './helpers.js';

const temps: string[] = [];
afterEach(async () => {
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
});

const ENTRY = 'export function createService() { return { name: NAME, order: 1, start() {}, stop() {} }; }';

async function tempPlugin(name: string, manifest: Record<string, unknown> | string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pilot-audit-'));
  temps.push(root);
  const dir = join(root, name);
  await mkdir(dir);
  await writeFile(
    join(dir, 'plugin.json'),
    typeof manifest === 'string' ? manifest : JSON.stringify(manifest),
  );
  await writeFile(join(dir, 'index.mjs'), ENTRY.replace('NAME', JSON.stringify(name)));
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

describe('plugin loader audit', () => {
  it('rejects a non-finite order (1e999) as a manifest error instead of crashing registerPlugins', async () => {
    const text = JSON.stringify(manifest('huge')).replace('"order":100', '"order":1e999');
    const dir = await tempPlugin('huge', text);
    const ok = await tempPlugin('fine', manifest('fine'));
    const r = await loadPlugins({ pluginDirs: [dir, ok] });
    expect(r.rejected.map((x) => [x.dir, x.error.code])).toEqual([[dir, 'ERR_PLUGIN_MANIFEST']]);
    expect(() => registerPlugins(new ServiceRegistry(), r)).not.toThrow();
  });

  it('rejects the dependants of a provider rejected for its config', async () => {
    const provider = await tempPlugin(
      'provider',
      manifest('provider', {
        order: 10,
        provides: ['x'],
        configSchema: { type: 'object', required: ['key'] },
      }),
    );
    const dependant = await tempPlugin('dependant', manifest('dependant', { order: 20, requires: ['x'] }));
    const r = await loadPlugins({ pluginDirs: [provider, dependant] });
    expect(r.rejected.map((x) => [x.name, x.error.code])).toEqual([
      ['provider', 'ERR_CONFIG_INVALID'],
      ['dependant', 'ERR_SERVICE_DEPENDENCY'],
    ]);
    expect(r.plugins).toEqual([]);
    // What was accepted starts: no ERR_SERVICE_DEPENDENCY for the whole daemon.
    const t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger });
    registerPlugins(registry, r);
    await expect(registry.startAll(t.host)).resolves.toBeUndefined();
    await registry.stopAll();
    await t.close();
  });

  it('accepts config schemas with the same $id in two plugins, and on a second load', async () => {
    const schema = { $id: 'config', type: 'object', properties: { port: { type: 'integer', default: 7 } } };
    const a = await tempPlugin('a', manifest('a', { configSchema: schema }));
    const b = await tempPlugin('b', manifest('b', { configSchema: schema }));
    const first = await loadPlugins({ pluginDirs: [a, b] });
    expect(first.rejected).toEqual([]);
    expect(first.plugins.map((p) => [p.name, p.config])).toEqual([
      ['a', { port: 7 }],
      ['b', { port: 7 }],
    ]);
    const again = await loadPlugins({ pluginDirs: [a], config: { a: { port: 'x' } } });
    expect(again.rejected.map((x) => x.error.code)).toEqual(['ERR_CONFIG_INVALID']);
  });
});
