/**
 * Loading plugins: the explicit built-in list plus external plugins from a plugins directory.
 *
 * Checks run in this order, for all plugins, before any plugin code runs:
 *   1. parse     every `plugin.json` (shape, semver version, semver coreApi range, configSchema compiles);
 *                built-ins: their config is validated and `create` (side-effect free by contract) gives the
 *                Service whose name/order/provides/requires are used below
 *   2. version   `coreApi` range includes CORE_API_VERSION                 (ERR_PLUGIN_INCOMPATIBLE)
 *   3. duplicates  built-ins first, then external plugins by directory name (ERR_SERVICE_DUPLICATE)
 *   4. dependencies  every `requires` provided by an accepted plugin that starts earlier, or by the host;
 *                repeated until stable, so dependants of a rejected plugin are rejected too (ERR_SERVICE_DEPENDENCY)
 *   5. config    against the plugin's JSON Schema, defaults applied         (ERR_CONFIG_INVALID)
 * A plugin failing a check is rejected (returned with its error, logged), never a crash. Accepted plugins
 * become {@link ServiceDescriptor}s: `esm` ones `import()` their entry and call `createService(config)` at
 * start; `process` ones become a {@link ProcessService}. Each start (and supervisor restart) builds a fresh
 * instance.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PilotError } from '../coreapi/errors.js';
import { silentLogger, type Logger } from '../coreapi/logger.js';
import { PLUGIN_FACTORY_EXPORT, type BuiltinPlugin, type PluginManifest } from '../coreapi/plugin.js';
import type { Service } from '../coreapi/service.js';
import type { ServiceOrigin } from '../coreapi/lifecycle.js';
import { DuplicateServiceError, PluginLoadError } from '../coreapi/service-errors.js';
import { CORE_API_VERSION } from '../coreapi/version.js';
import { compileConfigSchema, validateConfig } from './config-validator.js';
import { findDependencyProblems } from './dependencies.js';
import { checkCoreApi, readManifest, resolveInside } from './manifest.js';
import { toError } from './panic-guard.js';
import { ProcessService } from './process-service.js';
import type { ServiceDescriptor, ServiceRegistry } from './service-registry.js';

type Config = Readonly<Record<string, unknown>>;

export interface LoadPluginsOptions {
  /** Scanned: every subdirectory holding a plugin.json (names starting with `.` or `_` are skipped). */
  readonly pluginsDir?: string;
  /** Explicit plugin directories (in addition to the scan). */
  readonly pluginDirs?: readonly string[];
  readonly builtins?: readonly BuiltinPlugin[];
  /** Per-plugin config by plugin name. */
  readonly config?: Readonly<Record<string, Config>>;
  /** Plugin names to leave out. */
  readonly disabled?: readonly string[];
  readonly coreApiVersion?: string;
  /** Capabilities the host provides. */
  readonly hostCapabilities?: readonly string[];
  readonly logger?: Logger;
}

/** A plugin that passed every check. */
export interface LoadedPlugin {
  readonly name: string;
  readonly origin: ServiceOrigin;
  readonly dir?: string;
  readonly manifest?: PluginManifest;
  readonly config: Config;
  readonly descriptor: ServiceDescriptor;
}

export interface RejectedPlugin {
  /** Unknown when the manifest could not be parsed. */
  readonly name?: string;
  /** Unknown when the manifest could not be parsed. */
  readonly origin?: ServiceOrigin;
  readonly dir?: string;
  readonly error: PilotError;
}

export interface LoadResult {
  readonly plugins: LoadedPlugin[];
  readonly rejected: RejectedPlugin[];
}

interface Candidate {
  name: string;
  origin: ServiceOrigin;
  order: number;
  provides: readonly string[];
  requires: readonly string[];
  optional: boolean;
  dir?: string;
  manifest?: PluginManifest;
  version?: string;
  config: Config;
  /** Built-ins: the instance created during parse. */
  instance?: Service;
  builtin?: BuiltinPlugin;
}

function asPilot(err: unknown): PilotError {
  const e = toError(err);
  return e instanceof PilotError ? e : new PluginLoadError(e.message, { cause: e });
}

async function scan(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new PluginLoadError(`cannot read plugins directory ${dir}: ${toError(err).message}`, {
      cause: err,
    });
  }
  return entries
    .filter(
      (e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.') && !e.name.startsWith('_'),
    )
    .map((e) => join(dir, e.name))
    .sort();
}

/** Run every check; see the module doc. */
export async function loadPlugins(options: LoadPluginsOptions): Promise<LoadResult> {
  const logger = options.logger ?? silentLogger;
  const coreApi = options.coreApiVersion ?? CORE_API_VERSION;
  const disabled = new Set(options.disabled ?? []);
  const configOf = (name: string): Config => options.config?.[name] ?? {};
  const rejected: RejectedPlugin[] = [];
  const reject = (c: { name?: string; origin?: ServiceOrigin; dir?: string }, err: unknown): void => {
    const error = asPilot(err);
    rejected.push({
      ...(c.name ? { name: c.name } : {}),
      ...(c.origin ? { origin: c.origin } : {}),
      ...(c.dir ? { dir: c.dir } : {}),
      error,
    });
    logger.error({ plugin: c.name, dir: c.dir, code: error.code, err: error.message }, 'plugin rejected');
  };

  // 1. parse
  const builtins: Candidate[] = [];
  for (const b of options.builtins ?? []) {
    if (disabled.has(b.name)) continue;
    try {
      const config = b.configSchema
        ? validateConfig(b.name, compileConfigSchema(b.name, b.configSchema), configOf(b.name))
        : Object.freeze({ ...configOf(b.name) });
      const s = b.create(config);
      if (!s || s.name !== b.name)
        throw new PluginLoadError(`built-in "${b.name}": create returned "${String(s?.name)}"`);
      builtins.push({
        name: b.name,
        origin: 'builtin',
        order: s.order,
        provides: s.provides ?? [],
        requires: s.requires ?? [],
        optional: s.optional === true,
        ...(b.version ? { version: b.version } : {}),
        config,
        instance: s,
        builtin: b,
      });
    } catch (err) {
      reject({ name: b.name, origin: 'builtin' }, err);
    }
  }
  const dirs = [...(options.pluginsDir ? await scan(options.pluginsDir) : []), ...(options.pluginDirs ?? [])];
  const parsed: {
    dir: string;
    manifest: PluginManifest;
    validate?: ReturnType<typeof compileConfigSchema>;
  }[] = [];
  for (const dir of dirs.map((d) => resolve(d))) {
    try {
      const manifest = await readManifest(dir);
      if (manifest.runtime === 'esm') resolveInside(dir, manifest.entry as string, manifest.name);
      const validate = manifest.configSchema
        ? compileConfigSchema(manifest.name, manifest.configSchema)
        : undefined;
      parsed.push({ dir, manifest, ...(validate ? { validate } : {}) });
    } catch (err) {
      reject({ dir }, err);
    }
  }
  // 2. version
  const versioned = parsed.filter((p) => {
    try {
      checkCoreApi(p.manifest, coreApi);
      return true;
    } catch (err) {
      reject({ name: p.manifest.name, origin: p.manifest.runtime, dir: p.dir }, err);
      return false;
    }
  });
  // 3. duplicates
  const seen = new Set<string>();
  const unique: Candidate[] = [];
  const externals = new Map<Candidate, (typeof parsed)[number]>();
  for (const b of builtins) {
    if (seen.has(b.name)) reject(b, new DuplicateServiceError(b.name));
    else {
      seen.add(b.name);
      unique.push(b);
    }
  }
  for (const p of versioned) {
    const m = p.manifest;
    const c: Candidate = {
      name: m.name,
      origin: m.runtime,
      order: m.order,
      provides: m.provides ?? [],
      requires: m.requires ?? [],
      optional: m.optional === true,
      dir: p.dir,
      manifest: m,
      version: m.version,
      config: configOf(m.name),
    };
    if (disabled.has(m.name)) continue;
    if (seen.has(m.name)) {
      reject(c, new DuplicateServiceError(m.name, { details: { dir: p.dir } }));
      continue;
    }
    seen.add(m.name);
    unique.push(c);
    externals.set(c, p);
  }
  // A `disable` entry that names no built-in and no plugin found here is most likely a typo ("ecoh"): the
  // service it meant would run. Say so (the daemon still starts: a plugin may be installed later).
  const known = new Set([
    ...(options.builtins ?? []).map((b) => b.name),
    ...parsed.map((p) => p.manifest.name),
  ]);
  const unknown = [...disabled].filter((n) => !known.has(n));
  if (unknown.length > 0) {
    logger.warn({ names: unknown }, 'disable names no built-in service or plugin found (a typo?)');
  }
  // 4. dependencies (to a fixpoint)
  const host = new Set(options.hostCapabilities ?? []);
  const withProviders = (candidates: Candidate[]): Candidate[] => {
    let accepted = candidates;
    for (;;) {
      const bad = findDependencyProblems(accepted, host, 'plugin');
      if (bad.size === 0) return accepted;
      for (const [c, err] of bad) reject(c, err);
      accepted = accepted.filter((c) => !bad.has(c));
    }
  };
  // 5. config (external plugins; built-ins were validated before create)
  const loaded = new Map<Candidate, LoadedPlugin>();
  for (const c of withProviders(unique)) {
    const ext = externals.get(c);
    if (!ext) {
      loaded.set(c, { name: c.name, origin: c.origin, config: c.config, descriptor: builtinDescriptor(c) });
      continue;
    }
    try {
      const config = ext.validate
        ? validateConfig(c.name, ext.validate, c.config)
        : Object.freeze({ ...c.config });
      loaded.set(c, {
        name: c.name,
        origin: c.origin,
        dir: ext.dir,
        manifest: ext.manifest,
        config,
        descriptor: externalDescriptor(c, ext.dir, ext.manifest, config),
      });
    } catch (err) {
      reject(c, err);
    }
  }
  // A provider rejected by this last check takes its dependants with it: otherwise they were accepted and
  // startAll failed the whole daemon with ERR_SERVICE_DEPENDENCY.
  const plugins = withProviders([...loaded.keys()]).map((c) => loaded.get(c) as LoadedPlugin);
  return { plugins, rejected };
}

function builtinDescriptor(c: Candidate): ServiceDescriptor {
  const b = c.builtin as BuiltinPlugin;
  let first: Service | undefined = c.instance;
  return {
    name: c.name,
    order: c.order,
    provides: c.provides,
    requires: c.requires,
    optional: c.optional,
    origin: 'builtin',
    ...(c.version ? { version: c.version } : {}),
    config: c.config,
    create: () => {
      // The instance made during the checks serves the first start; restarts get fresh ones.
      const s = first ?? b.create(c.config);
      first = undefined;
      return s;
    },
  };
}

function externalDescriptor(c: Candidate, dir: string, m: PluginManifest, config: Config): ServiceDescriptor {
  const base = {
    name: c.name,
    order: c.order,
    provides: c.provides,
    requires: c.requires,
    optional: c.optional,
    origin: m.runtime,
    version: m.version,
    config,
  };
  if (m.runtime === 'process') {
    const [first, ...args] = m.command as readonly string[];
    const command =
      first.includes('/') || /\.(m|c)?js$/.test(first) ? resolveInside(dir, first, m.name) : first;
    return {
      ...base,
      create: () =>
        new ProcessService({
          name: c.name,
          order: c.order,
          provides: c.provides,
          requires: c.requires,
          optional: c.optional,
          command: [command, ...args],
          cwd: dir,
        }),
    };
  }
  const entry = resolveInside(dir, m.entry as string, m.name);
  return {
    ...base,
    create: async () => {
      let mod: Record<string, unknown>;
      try {
        mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
      } catch (err) {
        throw new PluginLoadError(`plugin "${c.name}": cannot import ${entry}: ${toError(err).message}`, {
          cause: err,
        });
      }
      const factory = mod[PLUGIN_FACTORY_EXPORT];
      if (typeof factory !== 'function') {
        throw new PluginLoadError(`plugin "${c.name}": ${entry} does not export ${PLUGIN_FACTORY_EXPORT}()`);
      }
      const s = (await (factory as (cfg: Config) => unknown)(config)) as Service;
      if (!s || typeof s !== 'object')
        throw new PluginLoadError(`plugin "${c.name}": factory returned no service`);
      // The manifest is authoritative for the lifecycle metadata.
      if (s.name !== c.name)
        throw new PluginLoadError(`plugin "${c.name}": factory returned "${String(s.name)}"`);
      return s;
    },
  };
}

/** Register every loaded plugin with the registry (before startAll). */
export function registerPlugins(registry: ServiceRegistry, result: LoadResult): void {
  for (const p of result.plugins) registry.registerDescriptor(p.descriptor);
}
