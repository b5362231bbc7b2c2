/**
 * JSON-Schema validation of plugin configs and manifests (ajv). Schemas are compiled once per plugin; the
 * validated config gets the schema's defaults applied (on a copy). Errors list `{ path, message }` with
 * JSON-pointer paths.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../coreapi/plugin.js';
import { ConfigValidationError, PluginManifestError } from '../coreapi/service-errors.js';
import { toError } from './panic-guard.js';

function newAjv(): Ajv {
  return new Ajv({ allErrors: true, useDefaults: true, strict: false });
}

/** Schemas without an `$id` share one instance (an instance costs about a megabyte of the daemon's memory). */
let shared: Ajv | null = null;

/**
 * The ajv instance to compile `schema` with. An instance keeps every schema it compiled under its `$id`, so a
 * second plugin (or a reload of the same one) whose schema has the same `$id` failed to compile ("already
 * exists"): a schema with an `$id` gets an instance of its own.
 */
function ajvFor(schema: JsonSchema): Ajv {
  if (typeof (schema as { $id?: unknown }).$id === 'string') return newAjv();
  shared ??= newAjv();
  return shared;
}

export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

export function issuesOf(errors: ErrorObject[] | null | undefined): SchemaIssue[] {
  return (errors ?? []).map((e) => {
    const missing =
      e.keyword === 'required'
        ? `/${String((e.params as { missingProperty?: string }).missingProperty)}`
        : '';
    return { path: `${e.instancePath}${missing}` || '/', message: e.message ?? e.keyword };
  });
}

/** Compile a plugin's config schema. An invalid schema is a manifest error. */
export function compileConfigSchema(plugin: string, schema: JsonSchema): ValidateFunction {
  try {
    return ajvFor(schema).compile(schema as Record<string, unknown>);
  } catch (err) {
    throw new PluginManifestError(`plugin "${plugin}": invalid configSchema: ${toError(err).message}`, {
      details: { plugin },
    });
  }
}

/** Validate (a copy of) `config`; returns it with defaults applied or throws ERR_CONFIG_INVALID. */
export function validateConfig(
  plugin: string,
  validate: ValidateFunction,
  config: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> {
  const copy = structuredClone(config) as Record<string, unknown>;
  if (!validate(copy)) throw new ConfigValidationError(plugin, issuesOf(validate.errors));
  return Object.freeze(copy);
}
