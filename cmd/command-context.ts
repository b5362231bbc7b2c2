/**
 * What a running command can use: the output, the daemon driver (connected on first use, closed when the
 * command ends), address resolution, the data directory, an AbortSignal that fires on SIGINT/SIGTERM and one
 * that also fires when the command's `--timeout` runs out ({@link CommandContext.requestSignal}).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { connect, makeAddr, parseAddr, parseDuration, type Addr, type Driver } from '../src/client.js';
import { CliError } from './errors.js';
import { deadline } from './io-util.js';
import type { CliIo, Output } from './output.js';

export const DEFAULT_SOCKET = '/tmp/pilot.sock';

const HOSTNAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

export interface CommandContextOptions {
  out: Output;
  /** `--socket` if given. */
  socket?: string;
  signal: AbortSignal;
  /** argv[1] of the running CLI and node's execArgv, to re-spawn `pilot daemon`. */
  self?: { script: string; execArgv: readonly string[] };
}

export class CommandContext {
  readonly out: Output;
  readonly io: CliIo;
  readonly signal: AbortSignal;
  /** `--socket` as given (undefined when not given). */
  readonly socketFlag: string | undefined;
  readonly self: { script: string; execArgv: readonly string[] };
  #requestSignal: AbortSignal;
  #driver: Promise<Driver> | null = null;
  #socket: string | undefined;
  readonly #cleanups: (() => unknown)[] = [];

  constructor(options: CommandContextOptions) {
    this.out = options.out;
    this.io = options.out.io;
    this.signal = options.signal;
    this.#requestSignal = options.signal;
    this.socketFlag = options.socket;
    this.self = options.self ?? { script: process.argv[1] ?? '', execArgv: process.execArgv };
  }

  get env(): NodeJS.ProcessEnv {
    return this.io.env;
  }

  /**
   * The daemon socket: `--socket`, else PILOT_SOCKET, else the `socket` of `$PILOT_HOME/config.json` (what
   * `pilot daemon` uses, in the same order), else /tmp/pilot.sock.
   */
  get socketPath(): string {
    this.#socket ??= this.socketFlag ?? (this.env.PILOT_SOCKET || this.#configSocket() || DEFAULT_SOCKET);
    return this.#socket;
  }

  /** `socket` from the config file, or '' when there is none (a broken file is `pilot daemon`'s to report). */
  #configSocket(): string {
    try {
      const cfg: unknown = JSON.parse(readFileSync(join(this.home, 'config.json'), 'utf8'));
      const socket = (cfg as { socket?: unknown } | null)?.socket;
      return typeof socket === 'string' ? socket : '';
    } catch {
      return '';
    }
  }

  /** PILOT_HOME, else ~/.pilot: pid file, log file, identity, inbox and received files. */
  get home(): string {
    return this.env.PILOT_HOME || join(homedir(), '.pilot');
  }

  /**
   * The signal for everything the command asks the daemon (connect, hostname resolution, Info, Bind, ...):
   * {@link signal}, plus the command's time limit once {@link setTimeLimit} ran. Pass it to driver calls as
   * `{ signal: ctx.requestSignal }`; a call cut off by it rejects ERR_ABORTED (→ `timeout`).
   */
  get requestSignal(): AbortSignal {
    return this.#requestSignal;
  }

  /**
   * Bound the whole command by `ms` from now (`--timeout`; nothing when 0 or undefined): the signal of
   * {@link requestSignal}, so connecting, resolving hostnames and daemon requests cannot outlast it.
   */
  setTimeLimit(ms: number | undefined): void {
    this.#requestSignal = deadline(this.signal, ms);
  }

  /**
   * Time limit of each daemon request (`PILOT_IPC_TIMEOUT`, a duration, 0 = none; default: the driver's, 30 s),
   * so a stopped or wedged daemon ends a command in `timeout` instead of a hang. `--timeout` may cut it shorter.
   */
  get ipcTimeoutMs(): number | undefined {
    const text = this.env.PILOT_IPC_TIMEOUT;
    // ERR_CONFIG_INVALID (→ invalid_argument) when it is not a duration.
    return text === undefined || text === '' ? undefined : parseDuration(text, 'PILOT_IPC_TIMEOUT');
  }

  /** The daemon driver, connected on first use. Rejects ERR_IPC_CONNECT (→ not_running) without a daemon. */
  driver(): Promise<Driver> {
    if (!this.#driver) {
      let requestTimeoutMs: number | undefined;
      try {
        requestTimeoutMs = this.ipcTimeoutMs;
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      this.#driver = connect(this.socketPath, { signal: this.#requestSignal, requestTimeoutMs });
    }
    return this.#driver;
  }

  /** Run `fn` when the command ends (after its output). */
  onClose(fn: () => unknown): void {
    this.#cleanups.push(fn);
  }

  /** Close the driver and run cleanups. Idempotent. */
  async close(): Promise<void> {
    for (const fn of this.#cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // cleanup failures are not the command's result
      }
    }
    const pending = this.#driver;
    this.#driver = null;
    if (pending) await pending.then((d) => d.close()).catch(() => {});
  }

  /**
   * An address argument: `N:NNNN.HHHH.LLLL`, a bare decimal node ID (network 0) or a hostname (resolved by
   * the daemon through the registry).
   */
  async resolveAddr(text: string, what = 'address'): Promise<Addr> {
    const t = text.trim();
    if (/^\d+$/.test(t)) {
      const n = Number(t);
      if (n > 0xffffffff)
        throw new CliError('invalid_argument', `${what} "${text}": node ID out of range (0..4294967295)`);
      return makeAddr(0, n);
    }
    if (t.includes(':')) return parseAddr(t);
    if (!HOSTNAME_RE.test(t)) {
      throw new CliError(
        'invalid_argument',
        `${what} "${text}" is not an address (N:NNNN.HHHH.LLLL), node ID or hostname`,
      );
    }
    const driver = await this.driver();
    const r = await driver.resolveHostname(t, { signal: this.#requestSignal });
    if (typeof r.address === 'string' && r.address !== '') return parseAddr(r.address);
    if (typeof r.node_id === 'number' && r.node_id > 0) return makeAddr(0, r.node_id);
    throw new CliError('not_found', `hostname "${t}" not found`);
  }

  /** A node argument (trust commands, lookup): a node ID, an address or a hostname → node ID. */
  async resolveNode(text: string): Promise<number> {
    return (await this.resolveAddr(text, 'node')).node;
  }
}
