/**
 * The daemon's JSON configuration file as `pilot init` and `pilot config` edit it. Every change goes through
 * the same validation the daemon applies when it starts, so a file the CLI wrote never stops a daemon; the
 * file is written atomically with mode 0600 in a 0700 directory. Keys the CLI adds are spelled as the
 * daemon's flags (`log-level`); a key already in the file keeps its spelling, and one key is never written
 * twice in different spellings.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../transport/atomic-file.js';
import {
  applyConfig,
  canonicalKey,
  CONFIG_KEYS,
  ConfigError,
  defaultConfig,
  readConfigFile,
  serviceOfDisableKey,
  validateNodeConfig,
  type NodeConfig,
} from './config.js';

/** The keys and values of a config file as written (empty when there is no file). */
export type ConfigObject = Record<string, unknown>;

export interface ConfigEdit {
  /** Key → value as text (`30s`, `true`, `echo,webhook`, JSON for `plugins`); keys in any spelling. */
  set?: Readonly<Record<string, string>>;
  /** Keys to remove, in any spelling. */
  unset?: readonly string[];
}

/** `logLevel` → `log-level`. */
export function flagSpelling(canonical: string): string {
  return canonical.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The canonical key for `key`, or an `ERR_CONFIG_UNKNOWN_KEY` error naming it. */
export function configKey(key: string, origin: string): keyof NodeConfig {
  const canonical = canonicalKey(key);
  if (!Object.hasOwn(CONFIG_KEYS, canonical)) {
    throw new ConfigError('ERR_CONFIG_UNKNOWN_KEY', `${origin}: unknown configuration key "${key}"`, {
      details: { key, origin },
    });
  }
  return canonical as keyof NodeConfig;
}

/** Read the file at `path`, or an empty object when it does not exist. */
export function readConfigObject(path: string): ConfigObject {
  return existsSync(path) ? readConfigFile(path) : {};
}

/** The value a `--set` text becomes in the file (checked as the daemon would check it; errors name `raw`). */
function storedValue(key: keyof NodeConfig, raw: string, text: string, origin: string): unknown {
  const spec = CONFIG_KEYS[key];
  if (spec.kind === 'object') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: "${raw}" takes a JSON object, got ${text}`, {
        details: { key: raw, value: text },
      });
    }
    applyConfig(defaultConfig(), { [raw]: parsed }, origin);
    return parsed;
  }
  const checked = applyConfig(defaultConfig(), { [raw]: text }, origin, true)[key];
  // A duration stays as written: a bare number in the file means seconds, not the milliseconds parsed here.
  return spec.kind === 'duration' ? text.trim() : checked;
}

/**
 * Apply `edit` to `current` and return the new object. The result is checked as a whole (cross-key rules,
 * e.g. a fingerprint with registry TLS) before anything is written.
 */
export function editConfigObject(current: ConfigObject, edit: ConfigEdit, origin = 'config'): ConfigObject {
  const out: ConfigObject = { ...current };
  const spellingOf = (key: string): string | undefined =>
    Object.keys(out).find((k) => canonicalKey(k) === key || (key === 'encrypt' && k === 'no-encrypt'));
  const drop = (key: string): string | undefined => {
    let first: string | undefined;
    for (let k = spellingOf(key); k !== undefined; k = spellingOf(key)) {
      first ??= k;
      delete out[k];
    }
    return first;
  };
  // `no-echo` & co. edit the `disable` list (as `no-encrypt` edits `encrypt`); a `no-echo` key already in the
  // file goes, so the file says it once.
  const toggle = (raw: string, service: string, off: boolean): void => {
    const current = spellingOf('disable');
    const list =
      current === undefined ? [] : applyConfig(defaultConfig(), { [current]: out[current] }, origin).disable;
    for (const k of Object.keys(out)) if (canonicalKey(k) === canonicalKey(raw)) delete out[k];
    const rest = list.filter((s) => s !== service);
    out[current ?? 'disable'] = off ? [...rest, service] : rest;
  };
  for (const raw of edit.unset ?? []) {
    const service = serviceOfDisableKey(raw);
    if (service !== undefined) toggle(raw, service, false);
    else if (canonicalKey(raw) === 'noEncrypt') drop('encrypt');
    else drop(configKey(raw, origin));
  }
  for (const [raw, text] of Object.entries(edit.set ?? {})) {
    const service = serviceOfDisableKey(raw);
    if (service !== undefined) {
      const off = applyConfig(defaultConfig(), { [raw]: text }, origin, true).disable.includes(service);
      toggle(raw, service, off);
      continue;
    }
    let key: keyof NodeConfig;
    let value: unknown;
    if (canonicalKey(raw) === 'noEncrypt') {
      key = 'encrypt';
      value = !(storedValue('encrypt', raw, text, origin) as boolean);
    } else {
      key = configKey(raw, origin);
      value = storedValue(key, raw, text, origin);
    }
    const was = drop(key);
    out[was !== undefined && canonicalKey(was) === key ? was : flagSpelling(key)] = value;
  }
  validateNodeConfig(applyConfig(defaultConfig(), out, origin));
  return out;
}

/** Write `obj` to `path` atomically (mode 0600; the directory is created 0700 when missing). */
export async function writeConfigObject(path: string, obj: ConfigObject): Promise<void> {
  const fail = (step: string, err: unknown): ConfigError =>
    new ConfigError(
      'ERR_CONFIG_FILE',
      `cannot write config file ${path} (${step}): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw fail('create directory', err);
  }
  await writeFileAtomic(path, `${JSON.stringify(obj, null, 2)}\n`, 0o600, fail);
}
