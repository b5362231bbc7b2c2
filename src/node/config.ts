/**
 * Daemon configuration: defaults, then a JSON file (`--config`), then environment variables, then flags
 * (flags win). Keys follow the reference's flag names (`no-encrypt`, `no-echo`, ... included); the JSON file may
 * spell them kebab-case, snake_case or camelCase. Every value is validated and a bad one is an `ERR_CONFIG_INVALID` naming the key.
 */
import { accessSync, constants as fsConstants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PilotError, type PilotErrorOptions } from '../coreapi/errors.js';
import { MAX_TIMER_MS } from '../coreapi/timers.js';
import { MAX_SOCKET_PATH } from '../ipc/socket-file.js';

export class ConfigError extends PilotError {
  constructor(
    code: 'ERR_CONFIG_INVALID' | 'ERR_CONFIG_UNKNOWN_KEY' | 'ERR_CONFIG_FILE',
    message: string,
    options?: PilotErrorOptions,
  ) {
    super(code, message, options);
  }
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'text' | 'pretty' | 'json';

export interface NodeConfig {
  /** Registry `host:port`; null starts an embedded registry on loopback. */
  registry: string | null;
  registryTls: boolean;
  /** Hex SHA-256 of the registry's certificate (required with registryTls). */
  registryFingerprint: string | null;
  /** Beacon `host:port`; null uses the embedded beacon when the registry is embedded, else none. */
  beacon: string | null;
  /** Tunnel UDP bind `host:port` (port 0 picks one). */
  listen: string;
  /** IPC Unix socket path. */
  socket: string;
  /** Identity file; null = a fresh identity each start. */
  identity: string | null;
  /** Fixed public endpoint `host:port` to register (skips discovery). */
  endpoint: string | null;
  hostname: string | null;
  public: boolean;
  encrypt: boolean;
  /** Owner id (e-mail) for key recovery at the registry. */
  owner: string | null;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Where inbox, received files and the embedded registry's store live. */
  dataDir: string;
  /** Embedded registry listen address (used when `registry` is null). */
  embeddedRegistry: string;
  /** Embedded beacon listen address. */
  embeddedBeacon: string;
  tunnelCrypto: 'v1' | 'v2';
  keepalive: number;
  idleTimeout: number;
  timeWait: number;
  synRateLimit: number;
  /** SYNs per second accepted from one source node (reference: 10). */
  synRatePerSource: number;
  maxConnsPerPort: number;
  maxConnsTotal: number;
  webhook: string | null;
  /** Directory of external plugins (each a folder with plugin.json). */
  pluginsDir: string | null;
  /** Built-in services to leave out. */
  disable: string[];
  /**
   * Run the stdio service on port 1000. Off by default, as in the reference (where 1000 is an application
   * convention): `pilot recv 1000` and `pilot connect` then have the port.
   */
  stdio: boolean;
  /** Per-plugin configuration sections. */
  plugins: Record<string, Record<string, unknown>>;
}

type Kind = 'string' | 'nstring' | 'bool' | 'int' | 'duration' | 'enum' | 'list' | 'object';

interface KeySpec {
  kind: Kind;
  values?: readonly string[];
  env?: string;
}

export const CONFIG_KEYS: Record<keyof NodeConfig, KeySpec> = {
  registry: { kind: 'nstring', env: 'PILOT_REGISTRY' },
  registryTls: { kind: 'bool' },
  registryFingerprint: { kind: 'nstring' },
  beacon: { kind: 'nstring', env: 'PILOT_BEACON' },
  listen: { kind: 'string', env: 'PILOT_LISTEN' },
  socket: { kind: 'string', env: 'PILOT_SOCKET' },
  identity: { kind: 'nstring', env: 'PILOT_IDENTITY' },
  endpoint: { kind: 'nstring' },
  hostname: { kind: 'nstring' },
  public: { kind: 'bool' },
  encrypt: { kind: 'bool' },
  owner: { kind: 'nstring' },
  logLevel: {
    kind: 'enum',
    values: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
    env: 'PILOT_LOG_LEVEL',
  },
  logFormat: { kind: 'enum', values: ['text', 'pretty', 'json'], env: 'PILOT_LOG_FORMAT' },
  // Not from PILOT_HOME here: that is the default (defaultConfig), so a config file's data_dir beats it.
  dataDir: { kind: 'string' },
  embeddedRegistry: { kind: 'string' },
  embeddedBeacon: { kind: 'string' },
  tunnelCrypto: { kind: 'enum', values: ['v1', 'v2'] },
  keepalive: { kind: 'duration' },
  idleTimeout: { kind: 'duration' },
  timeWait: { kind: 'duration' },
  synRateLimit: { kind: 'int' },
  synRatePerSource: { kind: 'int' },
  maxConnsPerPort: { kind: 'int' },
  maxConnsTotal: { kind: 'int' },
  webhook: { kind: 'nstring' },
  pluginsDir: { kind: 'nstring' },
  disable: { kind: 'list' },
  stdio: { kind: 'bool' },
  plugins: { kind: 'object' },
};

/** The defaults: nothing reaches outside the machine. */
export function defaultConfig(home = process.env.PILOT_HOME || join(homedir(), '.pilot')): NodeConfig {
  return {
    registry: null,
    registryTls: false,
    registryFingerprint: null,
    beacon: null,
    listen: '127.0.0.1:0',
    socket: '/tmp/pilot.sock',
    identity: null,
    endpoint: null,
    hostname: null,
    public: false,
    encrypt: true,
    owner: null,
    logLevel: 'info',
    logFormat: 'text',
    dataDir: home,
    embeddedRegistry: '127.0.0.1:9000',
    embeddedBeacon: '127.0.0.1:9001',
    tunnelCrypto: 'v2',
    keepalive: 30_000,
    idleTimeout: 120_000,
    timeWait: 10_000,
    synRateLimit: 100,
    synRatePerSource: 10,
    maxConnsPerPort: 1024,
    maxConnsTotal: 4096,
    webhook: null,
    pluginsDir: null,
    disable: [],
    stdio: false,
    plugins: {},
  };
}

/** `log-level`, `log_level`, `logLevel` → `logLevel`. `no-encrypt` is handled by callers as encrypt=false. */
export function canonicalKey(key: string): string {
  return key.replace(/[-_]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The data directory (inbox, received files, the embedded registry's store) must be a writable directory; it is
 * created (0700) when missing. Otherwise the node would start and lose what it receives. ERR_CONFIG_INVALID.
 */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      `config "dataDir": ${dir} is not a writable directory (${code})`,
      {
        cause,
        details: { key: 'dataDir', value: dir },
      },
    );
  }
}

/** Parse a Go-style duration (`30s`, `1m30s`, `250ms`) or plain seconds into milliseconds. */
export function parseDuration(v: unknown, key = 'duration'): number {
  const ms = parseDurationUnbounded(v, key);
  // A longer delay would make a timer fire after 1 ms.
  if (!(ms <= MAX_TIMER_MS)) throw invalid(key, v, 'a duration of at most 24 days');
  return ms;
}

function parseDurationUnbounded(v: unknown, key: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * 1000;
  if (typeof v !== 'string' || v.trim() === '') throw invalid(key, v, 'a duration like 30s, 2m or 500ms');
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    consumed = re.lastIndex;
  }
  if (consumed !== s.length || consumed === 0) throw invalid(key, v, 'a duration like 30s, 2m or 500ms');
  return total;
}

function invalid(key: string, value: unknown, want: string): ConfigError {
  return new ConfigError(
    'ERR_CONFIG_INVALID',
    `config "${key}": expected ${want}, got ${JSON.stringify(value)}`,
    {
      details: { key, value },
    },
  );
}

function coerce(key: string, spec: KeySpec, v: unknown, fromText: boolean): unknown {
  switch (spec.kind) {
    case 'string':
      if (typeof v !== 'string' || v === '') throw invalid(key, v, 'a non-empty string');
      return v;
    case 'nstring':
      if (v === null || v === '') return null;
      if (typeof v !== 'string') throw invalid(key, v, 'a string');
      return v;
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (fromText && typeof v === 'string' && /^(true|false|1|0|yes|no)$/i.test(v))
        return /^(true|1|yes)$/i.test(v);
      throw invalid(key, v, 'true or false');
    case 'int': {
      // Text must be decimal digits: Number('') and Number(' ') are 0, Number('0x10') is 16.
      const n = typeof v === 'string' && fromText && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
        throw invalid(key, v, 'a non-negative integer');
      return n;
    }
    case 'duration':
      // Whole milliseconds: the timers and the NAT keep-alive take integers.
      return Math.ceil(parseDuration(v, key));
    case 'enum':
      if (typeof v !== 'string' || !spec.values?.includes(v))
        throw invalid(key, v, `one of ${spec.values?.join(', ')}`);
      return v;
    case 'list':
      if (typeof v === 'string' && fromText)
        return v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw invalid(key, v, 'a list of strings');
      return v;
    case 'object':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(key, v, 'an object');
      return v;
  }
}

/** `noEcho` (`no-echo`, `no_echo`) → the built-in service it disables. */
const DISABLE_KEYS: Readonly<Record<string, string>> = {
  noEcho: 'echo',
  noStdio: 'stdio',
  noDataexchange: 'dataexchange',
  noEventstream: 'eventstream',
  noWebhook: 'webhook',
};

/** The built-in service a `no-echo`-style key (any spelling) disables, or undefined for other keys. */
export function serviceOfDisableKey(key: string): string | undefined {
  const canonical = canonicalKey(key);
  return Object.hasOwn(DISABLE_KEYS, canonical) ? DISABLE_KEYS[canonical] : undefined;
}

/** Apply `source` over `cfg`, validating each key. Unknown keys are an error naming them. */
export function applyConfig(
  cfg: NodeConfig,
  source: Record<string, unknown>,
  origin: string,
  fromText = false,
): NodeConfig {
  const out = { ...cfg } as Record<string, unknown>;
  // `no-echo` & co. after `disable`, whatever their order: they adjust the list, `disable` replaces it.
  const isDisableKey = (k: string): boolean => Object.hasOwn(DISABLE_KEYS, canonicalKey(k));
  const entries = Object.entries(source).sort(
    ([a], [b]) => Number(isDisableKey(a)) - Number(isDisableKey(b)),
  );
  // One setting under two spellings (`log-level` and `log_level`, `encrypt` and `no-encrypt`) in one source:
  // the same value is harmless, different ones would leave the key order to decide.
  const seen = new Map<string, { rawKey: string; value: unknown }>();
  for (const [rawKey, value] of entries) {
    if (value === undefined) continue;
    let key = canonicalKey(rawKey);
    let v = value;
    if (key === 'noEncrypt') {
      key = 'encrypt';
      v = typeof value === 'boolean' ? !value : value;
    }
    if (key === 'config') continue;
    // The reference's `-no-echo`, `-no-dataexchange`, `-no-eventstream` (and our `no-stdio`, `no-webhook`) as
    // keys: true adds the service to `disable`, false takes it out; the other disabled services stay.
    const service = Object.hasOwn(DISABLE_KEYS, key) ? DISABLE_KEYS[key] : undefined;
    if (service !== undefined) {
      const off = coerce(rawKey, { kind: 'bool' }, v, fromText) as boolean;
      const rest = (out.disable as string[]).filter((s) => s !== service);
      out.disable = off ? [...rest, service] : rest;
      continue;
    }
    // Own keys only: `toString`, `constructor` or `__proto__` are not configuration keys.
    const spec = Object.hasOwn(CONFIG_KEYS, key) ? (CONFIG_KEYS as Record<string, KeySpec>)[key] : undefined;
    if (spec === undefined) {
      throw new ConfigError('ERR_CONFIG_UNKNOWN_KEY', `${origin}: unknown configuration key "${rawKey}"`, {
        details: { key: rawKey, origin },
      });
    }
    const coerced = coerce(rawKey, spec, v, fromText);
    const before = seen.get(key);
    if (before !== undefined && JSON.stringify(before.value) !== JSON.stringify(coerced)) {
      throw new ConfigError(
        'ERR_CONFIG_INVALID',
        `${origin}: "${before.rawKey}" and "${rawKey}" set the same key "${key}" to different values`,
        { details: { key, keys: [before.rawKey, rawKey], origin } },
      );
    }
    seen.set(key, { rawKey, value: coerced });
    out[key] = coerced;
  }
  return out as unknown as NodeConfig;
}

/** Read and validate a JSON config file. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('ERR_CONFIG_FILE', `cannot read config file ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(
      'ERR_CONFIG_FILE',
      `config file ${path} is not valid JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('ERR_CONFIG_FILE', `config file ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Environment variables that map to config keys. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    if (spec.env && env[spec.env] !== undefined && env[spec.env] !== '') out[key] = env[spec.env];
  }
  return out;
}

/** defaults ← file ← env ← flags. */
export function loadConfig(
  opts: {
    file?: string | null;
    flags?: Record<string, unknown>;
    env?: NodeJS.ProcessEnv;
    base?: NodeConfig;
  } = {},
): NodeConfig {
  // An empty PILOT_HOME is unset (as the CLI treats it), not a data directory named "".
  let cfg = opts.base ?? defaultConfig((opts.env?.PILOT_HOME ?? process.env.PILOT_HOME) || undefined);
  if (opts.file) cfg = applyConfig(cfg, readConfigFile(opts.file), `config file ${opts.file}`);
  cfg = applyConfig(cfg, configFromEnv(opts.env ?? process.env), 'environment', true);
  if (opts.flags) cfg = applyConfig(cfg, opts.flags, 'flags', true);
  validateNodeConfig(cfg);
  return cfg;
}

const KEEPALIVE_MAX_MS = 86_400_000;

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*|[0-9a-fA-F:]+):(\d{1,5})$/;

/** Split `host:port` (IPv6 in brackets); an empty host means all interfaces. */
export function splitHostPort(text: string, key = 'address'): { host: string; port: number } {
  const m = HOST_PORT.exec(text);
  if (!m || Number(m[2]) > 65535) throw invalid(key, text, 'host:port');
  let host = m[1];
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host, port: Number(m[2]) };
}

/** Cross-field checks. */
export function validateNodeConfig(cfg: NodeConfig): void {
  splitHostPort(cfg.listen, 'listen');
  if (cfg.registry) splitHostPort(cfg.registry, 'registry');
  if (cfg.beacon) splitHostPort(cfg.beacon, 'beacon');
  if (cfg.endpoint) splitHostPort(cfg.endpoint, 'endpoint');
  splitHostPort(cfg.embeddedRegistry, 'embeddedRegistry');
  splitHostPort(cfg.embeddedBeacon, 'embeddedBeacon');
  if (cfg.registryTls && !cfg.registryFingerprint) {
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      'config "registryFingerprint": required when registryTls is on',
      {
        details: { key: 'registryFingerprint' },
      },
    );
  }
  // The keep-alive also paces the registry heartbeat and the beacon Discover (10 ms to 24 h).
  if (!(cfg.keepalive >= 10 && cfg.keepalive <= KEEPALIVE_MAX_MS)) {
    throw invalid('keepalive', `${cfg.keepalive}ms`, 'a duration from 10ms to 24h');
  }
  // Connections idle longer than this are reset: 0 would reset every one, busy or not, at the next sweep.
  if (!(cfg.idleTimeout > 0)) {
    throw invalid('idleTimeout', `${cfg.idleTimeout}ms`, 'a duration above 0');
  }
  if (Buffer.byteLength(cfg.socket) > MAX_SOCKET_PATH) {
    throw invalid('socket', cfg.socket, `a path of at most ${MAX_SOCKET_PATH} bytes (a Unix socket limit)`);
  }
  // The webhook service accepts only http(s) URLs; found only when it starts, the daemon would run without it.
  if (cfg.webhook !== null && !isHttpUrl(cfg.webhook)) {
    throw invalid('webhook', cfg.webhook, 'an http:// or https:// URL');
  }
  if (cfg.hostname !== null && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(cfg.hostname)) {
    throw invalid('hostname', cfg.hostname, 'a lowercase hostname (a-z, 0-9, -; at most 63 characters)');
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}
