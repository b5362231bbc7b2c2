/** Audit 5: plugin.json that is not a regular file (a FIFO, a device) or is huge gives a typed error, fast. */
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPlugins } from '../../src/runtime/plugin-loader.js';
import { MAX_MANIFEST_BYTES, readManifest, resolveInside } from '../../src/runtime/manifest.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(name: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pilot-audit5-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, name);
  await mkdir(dir);
  return dir;
}

describe('manifest file audit', () => {
  it('a plugin.json that is a FIFO is rejected with ERR_PLUGIN_MANIFEST instead of hanging the loader', async () => {
    const dir = await tempDir('fifo-plugin');
    const fifo = join(dir, 'plugin.json');
    execFileSync('mkfifo', [fifo]);
    // Without the fix the loader blocks in open() for ever; opening the write side afterwards releases it.
    cleanups.push(async () => {
      const w = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => null);
      await w?.close();
    });
    const result = await loadPlugins({ pluginDirs: [dir] });
    expect(result.plugins).toEqual([]);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0].error).toMatchObject({ code: 'ERR_PLUGIN_MANIFEST' });
    expect(result.rejected[0].error.message).toMatch(/not a regular file/);
  });

  it('a plugin.json symlinked to a character device is rejected without reading it', async () => {
    const dir = await tempDir('device-plugin');
    await symlink('/dev/zero', join(dir, 'plugin.json'));
    await expect(readManifest(dir)).rejects.toMatchObject({
      code: 'ERR_PLUGIN_MANIFEST',
      message: expect.stringMatching(/not a regular file/),
    });
  });

  it('a huge plugin.json is refused by its size, without reading it into memory', async () => {
    const dir = await tempDir('huge-plugin');
    const file = join(dir, 'plugin.json');
    await writeFile(file, '');
    await truncate(file, 1024 * 1024 * 1024); // sparse: 1 GiB of zeros, no disk used
    const before = process.memoryUsage().arrayBuffers;
    const t0 = Date.now();
    await expect(readManifest(dir)).rejects.toMatchObject({
      code: 'ERR_PLUGIN_MANIFEST',
      message: expect.stringMatching(new RegExp(`larger than ${MAX_MANIFEST_BYTES} bytes`)),
    });
    expect(Date.now() - t0).toBeLessThan(300);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('a manifest at the size limit is still read', async () => {
    const dir = await tempDir('padded-plugin');
    const m = JSON.stringify({
      name: 'padded-plugin',
      version: '1.0.0',
      coreApi: '^1.0.0',
      runtime: 'esm',
      entry: 'index.mjs',
      order: 100,
    });
    await writeFile(join(dir, 'plugin.json'), m + ' '.repeat(MAX_MANIFEST_BYTES - m.length));
    await expect(readManifest(dir)).resolves.toMatchObject({ name: 'padded-plugin' });
  });

  it('an entry whose name starts with ".." but stays inside the directory is accepted', () => {
    const dir = '/srv/plugins/p';
    expect(resolveInside(dir, '..main.mjs', 'p')).toBe('/srv/plugins/p/..main.mjs');
    expect(() => resolveInside(dir, '../main.mjs', 'p')).toThrow(/leaves the plugin directory/);
    expect(() => resolveInside(dir, '..', 'p')).toThrow(/leaves the plugin directory/);
    expect(() => resolveInside(dir, 'a/../../b.mjs', 'p')).toThrow(/leaves the plugin directory/);
  });
});
