/**
 * `pilot registry`: run a registry server until SIGINT/SIGTERM (or `io.signal`), saving on the way out. A
 * standby (`--standby`) is promoted to primary by SIGUSR2 (or by restarting it without `--standby`).
 * `argv` are the arguments after the `registry` subcommand. Reference-style single-dash long options
 * (`-addr`, `-store`, ...) are accepted as well as `--addr`. Prints `registry listening on <host:port>` (and the
 * TLS fingerprint) on stdout; logs go to stderr.
 */
import { Command, CommanderError, InvalidArgumentError as CommanderArgError } from 'commander';
import { pino } from 'pino';
import type { Logger } from '../coreapi/logger.js';
import { isPilotError } from '../coreapi/errors.js';
import { createRegistry, type RegistryServer } from './server.js';
import type { RegistryOptions } from './server-options.js';
import { splitHostPort } from './validation.js';

export interface RegistryCliIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Stops the registry when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Called once the registry listens. */
  onListening?: (server: RegistryServer) => void;
}

interface CliOptions {
  addr: string;
  store?: string;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  adminToken?: string;
  replicationToken?: string;
  standby?: string;
  standbyFingerprint?: string;
  registrationsPerMinute: number;
  saveDebounce: number;
  logLevel: string;
}

const LONG_OPTIONS = [
  'addr',
  'store',
  'tls',
  'tls-cert',
  'tls-key',
  'admin-token',
  'replication-token',
  'standby',
  'standby-fingerprint',
  'registrations-per-minute',
  'save-debounce',
  'log-level',
  'help',
];

/** `-addr x` / `-addr=x` → `--addr x` / `--addr=x` for the known options. */
function normalizeArgs(argv: readonly string[]): string[] {
  return argv.map((a) => {
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(a);
    return m && LONG_OPTIONS.includes(m[1]) ? `-${a}` : a;
  });
}

function intArg(min: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new CommanderArgError(`must be an integer >= ${min}`);
    return n;
  };
}

function addrArg(v: string): string {
  if (!splitHostPort(v)) throw new CommanderArgError('must be host:port');
  return v;
}

function buildCommand(out: NodeJS.WritableStream, err: NodeJS.WritableStream): Command {
  return new Command('registry')
    .description('run a pilot directory registry')
    .option('--addr <host:port>', 'address to listen on (port 0 = any free port)', addrArg, '127.0.0.1:9000')
    .option('--store <path>', 'snapshot file (state is kept only in memory without it)')
    .option('--tls', 'serve TLS with a self-signed certificate generated on first start')
    .option('--tls-cert <path>', 'TLS certificate file (created when missing)')
    .option('--tls-key <path>', 'TLS private key file (created when missing)')
    .option('--admin-token <token>', 'enables network creation and admin actions')
    .option('--replication-token <token>', 'lets standbys subscribe (and, with --standby, subscribes)')
    .option('--standby <host:port>', 'run as a hot standby of this primary', addrArg)
    .option('--standby-fingerprint <hex>', "TLS to the primary, pinning its certificate's SHA-256")
    .option(
      '--registrations-per-minute <n>',
      'registrations per source IP per minute (0 = unlimited)',
      intArg(0),
      10,
    )
    .option('--save-debounce <ms>', 'write snapshots at most once per this interval', intArg(0), 1000)
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent', 'info')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.write(s),
      writeErr: (s) => err.write(s),
    });
}

function toOptions(o: CliOptions, logger: Logger): RegistryOptions {
  const opts: RegistryOptions = {
    addr: o.addr,
    store: o.store ?? null,
    adminToken: o.adminToken,
    replicationToken: o.replicationToken,
    registrationRateLimit: o.registrationsPerMinute === 0 ? false : { perMinute: o.registrationsPerMinute },
    saveDebounceMs: o.saveDebounce,
    logger,
  };
  if (o.tlsCert !== undefined || o.tlsKey !== undefined) {
    opts.tls = { certPath: o.tlsCert, keyPath: o.tlsKey };
  } else if (o.tls) {
    opts.tls = true;
  }
  if (o.standby !== undefined) {
    const hp = splitHostPort(o.standby) as { host: string; port: number };
    opts.standby = {
      host: hp.host,
      port: hp.port,
      token: o.replicationToken,
      tls: o.standbyFingerprint ? { fingerprint: o.standbyFingerprint } : undefined,
    };
  }
  return opts;
}

/** Run `pilot registry`; resolves with the exit code once the registry stopped. */
export async function runRegistryCli(argv: readonly string[], io: RegistryCliIo = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  const cmd = buildCommand(out, err);
  try {
    cmd.parse(normalizeArgs(argv), { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  const o = cmd.opts<CliOptions>();
  const logger = pino({ level: o.logLevel, base: undefined }, err) as unknown as Logger;
  // Signal handlers go in before the address is printed: a parent that reads it and signals at once must
  // reach `stop`, not node's default action (which kills the process before the final save).
  let promote: (() => void) | null = null;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      if (promote) process.removeListener('SIGUSR2', promote);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (io.signal?.aborted) stop();
  else io.signal?.addEventListener('abort', stop, { once: true });

  let server: RegistryServer;
  try {
    server = createRegistry(toOptions(o, logger));
    await server.listen();
  } catch (e) {
    stop();
    err.write(`pilot registry: ${isPilotError(e) ? `${e.message} (${e.code})` : String(e)}\n`);
    return 1;
  }
  if (o.standby) {
    promote = (): void => {
      server.promote();
      out.write('registry promoted to primary\n');
    };
    process.on('SIGUSR2', promote);
  }
  out.write(`registry listening on ${server.addressText}\n`);
  if (server.fingerprint) out.write(`registry TLS fingerprint ${server.fingerprint}\n`);
  if (o.standby) out.write(`registry is a standby of ${o.standby}\n`);
  io.onListening?.(server);

  await stopped;
  try {
    await server.close();
  } catch (e) {
    err.write(`pilot registry: final save failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  out.write('registry stopped\n');
  return 0;
}
