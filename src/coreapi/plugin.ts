/**
 * How plugins are packaged.
 *
 * - Built-ins: `src/plugins/index.ts` exports `builtinPlugins: readonly BuiltinPlugin[]`.
 * - External plugins: a directory holding `plugin.json` ({@link PluginManifest}). `runtime: "esm"` modules
 *   export a named `createService` ({@link PluginFactory}); `runtime: "process"` plugins are child processes
 *   speaking the protocol in `docs/process-plugin-protocol.md`.
 *
 * A factory only builds the Service object: no I/O, no listeners, no timers. Side effects belong in `start`.
 */
import type { Service } from './service.js';

export type PluginConfig = Readonly<Record<string, unknown>>;

/** config → Service. The config is already validated against the plugin's schema. */
export type PluginFactory = (config: PluginConfig) => Service | Promise<Service>;

/** A JSON Schema (draft 2020-12 / draft-07 subset as understood by ajv). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** One entry of the built-in plugin list. */
export interface BuiltinPlugin {
  /** Must equal the `name` of the Service that `create` returns. */
  readonly name: string;
  create(config: PluginConfig): Service;
  /** Optional JSON Schema for the plugin's config, checked before `create`. */
  readonly configSchema?: JsonSchema;
  readonly version?: string;
  readonly description?: string;
}

export type PluginRuntime = 'esm' | 'process';

/** `plugin.json` of an external plugin. */
export interface PluginManifest {
  /** Lowercase kebab-case, unique among all plugins. */
  readonly name: string;
  /** The plugin's own semver version. */
  readonly version: string;
  readonly description?: string;
  /** Semver range of CORE_API_VERSION the plugin supports, e.g. `^1.0.0`. */
  readonly coreApi: string;
  readonly runtime: PluginRuntime;
  /** `esm`: module path relative to the plugin directory (exports `createService`). */
  readonly entry?: string;
  /**
   * `process`: argv of the child, relative paths resolved against the plugin directory. A first element ending
   * in `.js`/`.mjs`/`.cjs` is run with the daemon's own Node executable.
   */
  readonly command?: readonly string[];
  readonly order: number;
  readonly provides?: readonly string[];
  readonly requires?: readonly string[];
  readonly optional?: boolean;
  readonly configSchema?: JsonSchema;
}

/** The name of the factory export of an `esm` plugin module. */
export const PLUGIN_FACTORY_EXPORT = 'createService';
/** The manifest file name in a plugin directory. */
export const PLUGIN_MANIFEST_FILE = 'plugin.json';
