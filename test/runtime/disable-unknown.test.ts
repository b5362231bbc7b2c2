/**
 * A `disable` entry that names no built-in service and no plugin in the plugins directory is most likely a typo
 * ("ecoh"), which leaves the service it meant running: the loader says so in a warning, naming the entries. Entries
 * that match a built-in or a plugin's manifest (even one rejected later) are not reported.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/coreapi/logger.js';
import { silentLogger } from '../../src/coreapi/logger.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { loadPlugins } from '../../src/runtime/plugin-loader.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function recorder(): { logger: Logger; warnings: { obj: unknown; msg: unknown }[] } {
  const warnings: { obj: unknown; msg: unknown }[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (obj: unknown, msg?: unknown) => void warnings.push({ obj, msg }),
    child: () => logger,
  };
  return { logger, warnings };
}

describe('disable entries that name nothing', () => {
  it('are reported in one warning; matching ones are not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pilot-disable-'));
    dirs.push(dir);
    await mkdir(join(dir, 'mine'));
    await writeFile(
      join(dir, 'mine', 'plugin.json'),
      JSON.stringify({
        name: 'mine',
        version: '1.0.0',
        coreApi: '^99.0.0',
        runtime: 'esm',
        entry: 'i.mjs',
        order: 1,
      }),
    );
    const { logger, warnings } = recorder();
    await loadPlugins({
      builtins: builtinPlugins,
      pluginsDir: dir,
      disabled: ['ecoh', 'webhook', 'mine', 'stdo'],
      logger,
    });
    const hits = warnings.filter((w) => String(w.msg).includes('disable names'));
    expect(hits).toHaveLength(1);
    expect(hits[0].obj).toEqual({ names: ['ecoh', 'stdo'] });
  });

  it('says nothing when every entry matches', async () => {
    const { logger, warnings } = recorder();
    await loadPlugins({ builtins: builtinPlugins, disabled: ['echo', 'webhook'], logger });
    expect(warnings.filter((w) => String(w.msg).includes('disable names'))).toEqual([]);
  });
});
