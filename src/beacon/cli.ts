/**
 * `pilot beacon`: run a standalone beacon until SIGINT/SIGTERM (or until `options.signal` aborts).
 *
 *   pilot beacon --addr 127.0.0.1:9001 --beacon-id 1 --peers 10.0.0.2:9001,10.0.0.3:9001 --health 127.0.0.1:8080
 *
 * `argv` holds the arguments after `beacon`. Resolves the exit code: 0 after a clean stop, 1 when the beacon
 * cannot start, 2 for bad arguments. Never calls process.exit.
 */
import { Command, CommanderError } from 'commander';
import { pino, type Level } from 'pino';
import PinoPretty from 'pino-pretty';
import type { Logger } from '../coreapi/logger.js';
import { isPilotError } from '../coreapi/errors.js';
import { DEFAULT_BEACON_PORT } from './constants.js';
import { BeaconConfigError } from './errors.js';
import { parseHostPort } from './ip.js';
import type { BeaconOptions, BeaconRegistry } from './options.js';
import { createBeacon, type Beacon } from './server.js';

export interface BeaconCliOptions {
  /** Stop when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Where logs and help go; default process.stdout / process.stderr. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /**
   * Builds the registry client for `--registry` (the composition root provides it). The command owns what it
   * returns: when the command ends, a `close()` method on it (as `RegistryClient` has) is called.
   */
  createRegistry?: (addr: string) => BeaconRegistry | Promise<BeaconRegistry>;
  /** Called once the beacon is bound. */
  onListening?: (beacon: Beacon) => void;
  /** Listen for SIGINT/SIGTERM; default true. */
  handleSignals?: boolean;
}

interface RawOpts {
  addr: string;
  beaconId: string;
  peers?: string;
  health?: string;
  registry?: string;
  advertise?: string;
  syncInterval?: string;
  acceptUnknownPeers?: boolean;
  logLevel: string;
  logFormat: string;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

function buildProgram(out: NodeJS.WritableStream, err: NodeJS.WritableStream): Command {
  return new Command('beacon')
    .description('run a beacon: endpoint discovery, hole-punch coordination and relay (UDP)')
    .option('--addr <host:port>', 'UDP listen address (":9001" = every interface)', `:${DEFAULT_BEACON_PORT}`)
    .option('--beacon-id <n>', 'beacon ID for gossip and registry (uint32)', '0')
    .option('--peers <list>', 'comma-separated peer beacons host:port for Sync gossip')
    .option('--health <host:port>', 'serve GET /healthz on this TCP address')
    .option('--registry <host:port>', 'register with this registry and learn peer beacons from it')
    .option('--advertise <host:port>', 'address to register with the registry (default: --addr)')
    .option('--sync-interval <ms>', 'gossip interval in milliseconds', '10000')
    .option('--accept-unknown-peers', 'accept Sync gossip from beacons that are not configured peers')
    .option('--log-level <level>', 'trace|debug|info|warn|error|silent', 'info')
    .option('--log-format <format>', 'json|text', 'text')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) })
    .allowExcessArguments(false);
}

function uint(text: string, max: number, what: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > max)
    throw new BeaconConfigError(`${what}: "${text}" is not 0..${max}`);
  return Number(text);
}

async function toOptions(raw: RawOpts, cli: BeaconCliOptions, logger: Logger): Promise<BeaconOptions> {
  const addr = parseHostPort(raw.addr, '--addr');
  const opts: BeaconOptions = {
    host: addr.host,
    port: addr.port,
    beaconId: uint(raw.beaconId, 0xffffffff, '--beacon-id'),
    syncIntervalMs: uint(raw.syncInterval ?? '10000', 86_400_000, '--sync-interval'),
    acceptUnknownPeers: raw.acceptUnknownPeers === true,
    logger,
  };
  if (raw.peers !== undefined) {
    const peers = raw.peers
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    for (const p of peers) parseHostPort(p, '--peers');
    opts.peers = peers;
  }
  if (raw.health !== undefined) {
    const h = parseHostPort(raw.health, '--health');
    opts.healthHost = h.host === '' ? '0.0.0.0' : h.host;
    opts.healthPort = h.port;
  }
  if (raw.advertise !== undefined) {
    parseHostPort(raw.advertise, '--advertise');
    opts.advertiseAddr = raw.advertise;
  }
  if (raw.registry !== undefined) {
    parseHostPort(raw.registry, '--registry');
    if (cli.createRegistry === undefined) {
      throw new BeaconConfigError('--registry is not available in this build (no registry client provided)');
    }
    opts.registry = await cli.createRegistry(raw.registry);
  }
  return opts;
}

/** Close a registry client the command created (`close()` is optional in {@link BeaconRegistry}). */
function closeRegistry(registry: BeaconRegistry | undefined, logger: Logger | undefined): void {
  const close = (registry as { close?: unknown } | undefined)?.close;
  if (typeof close !== 'function') return;
  const onError = (err: unknown): void => logger?.warn({ err }, 'beacon: closing the registry client failed');
  try {
    const r = (close as () => unknown).call(registry);
    if (r instanceof Promise) r.catch(onError);
  } catch (err) {
    onError(err);
  }
}

function makeLogger(level: string, format: string, out: NodeJS.WritableStream): Logger {
  if (!LEVELS.has(level)) throw new BeaconConfigError(`--log-level: unknown level "${level}"`);
  if (format !== 'json' && format !== 'text')
    throw new BeaconConfigError(`--log-format: "${format}" is not json|text`);
  const base = { level: level as Level | 'silent', base: { svc: 'beacon' } };
  const log =
    format === 'json'
      ? pino(base, out)
      : pino(base, PinoPretty({ destination: out, sync: true, colorize: false, ignore: 'pid,hostname' }));
  return log as unknown as Logger;
}

/** Run the beacon command. See the module comment. */
export async function runBeaconCli(argv: readonly string[], cli: BeaconCliOptions = {}): Promise<number> {
  const out = cli.stdout ?? process.stdout;
  const errOut = cli.stderr ?? process.stderr;
  const program = buildProgram(out, errOut);
  let raw: RawOpts;
  let options: BeaconOptions;
  try {
    program.parse([...argv], { from: 'user' });
    raw = program.opts<RawOpts>();
    const logger = makeLogger(raw.logLevel, raw.logFormat, out);
    options = await toOptions(raw, cli, logger);
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    errOut.write(`pilot beacon: ${isPilotError(err) ? err.message : String(err)}\n`);
    return 2;
  }
  if (cli.signal?.aborted) {
    closeRegistry(options.registry, options.logger);
    return 0;
  }

  // Signal handlers go in before the beacon starts (and logs its address): a parent that signals as soon as it
  // reads the address must reach `stop`, not node's default action.
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      cli.signal?.removeEventListener('abort', stop);
      resolve();
    };
  });
  if (cli.handleSignals !== false) {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  cli.signal?.addEventListener('abort', stop, { once: true });

  let beacon: Beacon;
  try {
    beacon = await createBeacon(options);
  } catch (err) {
    stop();
    closeRegistry(options.registry, options.logger);
    errOut.write(`pilot beacon: ${isPilotError(err) ? `${err.code}: ${err.message}` : String(err)}\n`);
    return isPilotError(err, 'ERR_BEACON_CONFIG') ? 2 : 1;
  }
  cli.onListening?.(beacon);
  if (cli.signal?.aborted) stop();
  await stopped;
  options.logger?.info({ stats: beacon.stats() }, 'beacon stopping');
  await beacon.close();
  closeRegistry(options.registry, options.logger);
  return 0;
}
