/**
 * Reading and checking `plugin.json` (see coreapi `PluginManifest`). Parsing checks the shape against a JSON
 * Schema, that `version` is semver and `coreApi` a semver range; the range check against this daemon's
 * CORE_API_VERSION is a separate step ({@link checkCoreApi}) so the loader can run the checks in order.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import semver from 'semver';
import { Ajv } from 'ajv';
import { PLUGIN_MANIFEST_FILE, type PluginManifest } from '../coreapi/plugin.js';
import { IncompatiblePluginError, PluginManifestError } from '../coreapi/service-errors.js';
import { issuesOf } from './config-validator.js';
import { toError } from './panic-guard.js';

/** Largest accepted manifest file. */
export const MAX_MANIFEST_BYTES = 256 * 1024;

const stringArray = { type: 'array', items: { type: 'string', minLength: 1 } };

const MANIFEST_SCHEMA = {
  type: 'object',
  required: ['name', 'version', 'coreApi', 'runtime', 'order'],
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' },
    version: { type: 'string' },
    description: { type: 'string' },
    coreApi: { type: 'string' },
    runtime: { enum: ['esm', 'process'] },
    entry: { type: 'string', minLength: 1 },
    command: { ...stringArray, minItems: 1 },
    order: { type: 'number' },
    provides: stringArray,
    requires: stringArray,
    optional: { type: 'boolean' },
    configSchema: { type: 'object' },
  },
  allOf: [
    { if: { properties: { runtime: { const: 'esm' } } }, then: { required: ['entry'] } },
    { if: { properties: { runtime: { const: 'process' } } }, then: { required: ['command'] } },
  ],
} as const;

const validateShape = new Ajv({ allErrors: true, strict: false }).compile(MANIFEST_SCHEMA);

/** Parse and shape-check manifest text. `where` names the file in errors. */
export function parseManifest(text: string, where: string): PluginManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PluginManifestError(`${where}: not valid JSON: ${toError(err).message}`, {
      details: { file: where },
    });
  }
  if (!validateShape(raw)) {
    const issues = issuesOf(validateShape.errors);
    throw new PluginManifestError(
      `${where}: invalid manifest: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`,
      { details: { file: where, errors: issues } },
    );
  }
  const m = raw as unknown as PluginManifest;
  // JSON has no Infinity, but `1e999` parses to it: refuse it here, or the registry throws at registration.
  if (!Number.isFinite(m.order)) {
    throw new PluginManifestError(`${where}: order must be a finite number`, { details: { file: where } });
  }
  if (!semver.valid(m.version)) {
    throw new PluginManifestError(`${where}: version "${m.version}" is not semver`, {
      details: { file: where },
    });
  }
  if (!semver.validRange(m.coreApi)) {
    throw new PluginManifestError(`${where}: coreApi "${m.coreApi}" is not a semver range`, {
      details: { file: where },
    });
  }
  return m;
}

/**
 * Read at most `max` bytes of a regular file; a FIFO, a device or a directory is refused (without blocking on
 * it: O_NONBLOCK), and so is a file larger than `max`, by its size, before anything is read. Reading first
 * and checking after let a `plugin.json` FIFO hang the loader for ever and a huge one (or a link to
 * /dev/zero) fill the daemon's memory before it was refused.
 */
async function readBounded(file: string, max: number): Promise<Buffer> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const st = await fh.stat();
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > max) throw new Error(`larger than ${max} bytes`);
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      // The file grew since the stat.
      if (n > max) throw new Error(`larger than ${max} bytes`);
    }
    return buf.subarray(0, n);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Read `<dir>/plugin.json`. */
export async function readManifest(dir: string): Promise<PluginManifest> {
  const file = join(dir, PLUGIN_MANIFEST_FILE);
  let text: string;
  try {
    text = (await readBounded(file, MAX_MANIFEST_BYTES)).toString('utf8');
  } catch (err) {
    throw new PluginManifestError(`${file}: cannot read: ${toError(err).message}`, { details: { file } });
  }
  return parseManifest(text, file);
}

/** The plugin's `coreApi` range must include `coreApiVersion`. */
export function checkCoreApi(m: PluginManifest, coreApiVersion: string): void {
  if (!semver.satisfies(coreApiVersion, m.coreApi, { includePrerelease: true })) {
    throw new IncompatiblePluginError(
      `plugin "${m.name}" needs coreApi ${m.coreApi}, this daemon has ${coreApiVersion}`,
      { details: { plugin: m.name, coreApi: m.coreApi, have: coreApiVersion } },
    );
  }
}

/** Resolve a path from the manifest inside the plugin directory; escaping it is a manifest error. */
export function resolveInside(dir: string, path: string, plugin: string): string {
  const abs = resolve(dir, path);
  const rel = relative(resolve(dir), abs);
  // `..` or `../x` leave the directory; a name that merely starts with `..` (`..main.mjs`) does not.
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new PluginManifestError(`plugin "${plugin}": path "${path}" leaves the plugin directory`, {
      details: { plugin, path },
    });
  }
  return abs;
}
