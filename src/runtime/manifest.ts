/**
 * Reading and checking `plugin.json` (see coreapi `PluginManifest`). Parsing checks the shape against a JSON
 * Schema, that `version` is semver and `coreApi` a semver range; the range check against this daemon's
 * CORE_API_VERSION is a separate step ({@link checkCoreApi}) so the loader can run the checks in order.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
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

/** Read `<dir>/plugin.json`. */
export async function readManifest(dir: string): Promise<PluginManifest> {
  const file = join(dir, PLUGIN_MANIFEST_FILE);
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_MANIFEST_BYTES) throw new Error(`larger than ${MAX_MANIFEST_BYTES} bytes`);
    text = buf.toString('utf8');
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
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new PluginManifestError(`plugin "${plugin}": path "${path}" leaves the plugin directory`, {
      details: { plugin, path },
    });
  }
  return abs;
}
