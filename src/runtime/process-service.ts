/**
 * A Service backed by a child process (`runtime: "process"`). The child speaks newline-delimited JSON on
 * stdin/stdout (docs/process-plugin-protocol.md); its stderr lines are logged. The registry cannot tell it
 * from an in-process service.
 *
 * - start: spawn, send `start` (config, identity, coreApi) and await the answer within the start budget. A
 *   child that exits or fails to spawn fails the start with ERR_PLUGIN_PROCESS.
 * - running: a child that exits on its own is a failed service (`deps.tasks.fail`), which the supervisor
 *   restarts with a fresh child. It never takes the daemon down.
 * - stop: send `stop`, close stdin, wait for the exit; SIGTERM after `exitGraceMs`, SIGKILL when the stop
 *   budget runs out. `stop` resolves only once the child is gone. POSIX: the child leads its own process
 *   group; signals go to the group, and whatever is left in it when the child exits is SIGKILLed.
 * - health: a `health` request, bounded by `healthTimeoutMs`.
 * - flooding: the host answers at most `maxInFlightRequests` of the child's requests at once and otherwise stops
 *   reading its stdout (backpressure); a child that leaves more than `maxPendingOutputBytes` unread on its
 *   stdin is failed with ERR_PLUGIN_OVERLOADED and killed (ndjson-channel.ts), then restarted by the supervisor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { formatAddr } from '../coreapi/addr.js';
import { AbortError, ClosedError } from '../coreapi/errors.js';
import type { Logger } from '../coreapi/logger.js';
import type { Deps, HealthStatus, Service } from '../coreapi/service.js';
import { PluginProcessError, PluginProtocolError } from '../coreapi/service-errors.js';
import { MAX_TIMER_MS } from '../coreapi/timers.js';
import { CORE_API_VERSION } from '../coreapi/version.js';
import { NdjsonChannel, PluginOverloadedError, type NdjsonChannelStats } from './ndjson-channel.js';
import { HEALTH_LEVELS, ProcessBridge } from './process-bridge.js';

export interface ProcessServiceOptions {
  readonly name: string;
  readonly order: number;
  readonly provides?: readonly string[];
  readonly requires?: readonly string[];
  readonly optional?: boolean;
  /** argv; a first element ending in .js/.mjs/.cjs runs with this Node executable. */
  readonly command: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Wait this long for a voluntary exit after `stop` before SIGTERM (default 1000 ms). */
  readonly exitGraceMs?: number;
  readonly healthTimeoutMs?: number;
  readonly maxLineBytes?: number;
  /** The child's requests answered at once before its stdout is no longer read (default 1024). */
  readonly maxInFlightRequests?: number;
  /** Bytes of those requests' lines (default 32 MiB). */
  readonly maxInFlightBytes?: number;
  /** Bytes queued on the child's stdin that fail the plugin with ERR_PLUGIN_OVERLOADED (default 32 MiB). */
  readonly maxPendingOutputBytes?: number;
}

const SCRIPT_RE = /\.(m|c)?js$/;

/**
 * POSIX: every child leads a process group of its own, and signals go to the whole group. Otherwise a plugin
 * run through a wrapper (`sh -c ...`, `npm start`) lost only the wrapper to SIGTERM/SIGKILL while the real
 * worker ran on, orphaned, after stop; and helpers a plugin started outlived it.
 */
const GROUPS = process.platform !== 'win32';

/** Signal the child's process group (the child alone where there are no groups, or the group is gone). */
function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (GROUPS && child.pid !== undefined) {
    try {
      process.kill(-child.pid, sig);
      return;
    } catch {
      // ESRCH: no such group (left already); fall back to the child itself.
    }
  }
  if (!exited(child)) child.kill(sig);
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  // An 'abort' listener added to an already aborted signal never fires: without this check, `stop` reached
  // with its budget spent waited the whole exit grace (and then 500 ms more) before its SIGKILL, so a child
  // that ignores stop, EOF and SIGTERM outlived the stop budget (and the daemon, if it exited meanwhile).
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (v: boolean): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const onExit = (): void => done(true);
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(false), ms);
    child.once('exit', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class ProcessService implements Service {
  readonly name: string;
  readonly order: number;
  readonly provides?: readonly string[];
  readonly requires?: readonly string[];
  readonly optional?: boolean;
  readonly #opts: ProcessServiceOptions;
  #child: ChildProcess | null = null;
  #channel: NdjsonChannel | null = null;
  #bridge: ProcessBridge | null = null;
  #stopping = false;
  #running = false;

  constructor(opts: ProcessServiceOptions) {
    if (!Array.isArray(opts.command) || opts.command.length === 0) {
      throw new PluginProcessError(`plugin "${opts.name}": empty command`);
    }
    this.#opts = opts;
    this.name = opts.name;
    this.order = opts.order;
    if (opts.provides) this.provides = opts.provides;
    if (opts.requires) this.requires = opts.requires;
    if (opts.optional !== undefined) this.optional = opts.optional;
  }

  /** Flow-control numbers of the channel to the current child (null before the first start). */
  get channelStats(): NdjsonChannelStats | null {
    return this.#channel?.stats ?? null;
  }

  /** Counters of the bridge to the current child (null before the first start). */
  get bridgeStats(): { droppedDatagrams: number; droppedEvents: number; pausedStreams: number } | null {
    const b = this.#bridge;
    return b ? { ...b.stats, pausedStreams: b.pausedStreams } : null;
  }

  /** The child's pid while it runs. */
  get pid(): number | undefined {
    return this.#child && !exited(this.#child) ? this.#child.pid : undefined;
  }

  async start(deps: Deps, signal: AbortSignal): Promise<void> {
    if (this.#child && !exited(this.#child))
      throw new PluginProcessError(`plugin "${this.name}" already running`);
    this.#stopping = false;
    this.#running = false;
    const [first, ...rest] = this.#opts.command;
    const [cmd, args] = SCRIPT_RE.test(first) ? [process.execPath, [first, ...rest]] : [first, rest];
    const child = spawn(cmd, args, {
      cwd: this.#opts.cwd,
      env: {
        ...process.env,
        ...this.#opts.env,
        PILOT_PLUGIN_NAME: this.name,
        PILOT_CORE_API: CORE_API_VERSION,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: GROUPS,
    });
    this.#child = child;
    const log = deps.logger;
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(new PluginProcessError(`cannot spawn ${cmd}: ${err.message}`, { cause: err })),
      );
    });
    child.on('error', (err) => log.error({ err: { message: err.message } }, 'plugin process error'));
    this.#pipeStderr(child, log);
    const channel = new NdjsonChannel({
      input: child.stdout as NonNullable<ChildProcess['stdout']>,
      output: child.stdin as NonNullable<ChildProcess['stdin']>,
      maxLineBytes: this.#opts.maxLineBytes,
      maxInFlightRequests: this.#opts.maxInFlightRequests,
      maxInFlightBytes: this.#opts.maxInFlightBytes,
      maxPendingOutputBytes: this.#opts.maxPendingOutputBytes,
      onRequest: (method, params) => this.#bridge?.handleRequest(method, params),
      onNotification: (method, params) => this.#bridge?.handleNotification(method, params),
      onMalformed: (line, reason) =>
        log.warn({ reason, line: line.slice(0, 200) }, 'malformed plugin message'),
      onClose: (err) => {
        if (err instanceof PluginProtocolError || err instanceof PluginOverloadedError) {
          deps.tasks.fail(err);
          signalGroup(child, 'SIGKILL');
          return;
        }
        // stdout ended (or failed) while the child runs on: it can no longer answer or send anything. A
        // child that is exiting gets a moment to do so (its exit is the better report); one that stays
        // alive is a failed service, killed, instead of a zombie reported as running.
        if (!this.#running || this.#stopping || exited(child)) return;
        void waitExit(child, this.#opts.exitGraceMs ?? 1000).then((gone) => {
          if (gone || !this.#running || this.#stopping) return;
          deps.tasks.fail(
            new PluginProcessError(`plugin "${this.name}" closed its stdout`, { cause: err ?? undefined }),
          );
          signalGroup(child, 'SIGKILL');
        });
      },
    });
    this.#channel = channel;
    const bridge = new ProcessBridge(channel, deps);
    this.#bridge = bridge;
    const exit = new Promise<never>((_resolve, reject) => {
      child.once('exit', (code, sig) => {
        // The plugin's process is gone (stopped, crashed or killed): what it started goes with it.
        if (GROUPS && child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // ESRCH: nothing left in its group.
          }
        }
        channel.close(null);
        bridge.close();
        const err = new PluginProcessError(
          `plugin "${this.name}" process exited (code ${code}, signal ${sig})`,
          {
            details: { code, signal: sig },
          },
        );
        if (this.#running && !this.#stopping) deps.tasks.fail(err);
        this.#running = false;
        reject(err);
      });
    });
    exit.catch(() => undefined);
    try {
      await Promise.race([spawned, exit]);
      const params = {
        name: this.name,
        coreApi: CORE_API_VERSION,
        config: deps.config,
        identity: {
          nodeId: deps.identity.nodeId,
          address: formatAddr(deps.identity.address),
          publicKey: deps.identity.publicKey.toString('base64'),
        },
        trust: deps.trust !== undefined,
      };
      await Promise.race([channel.request('start', params, signal), exit]);
      this.#running = true;
    } catch (err) {
      // The start failed: the child goes as after `stop`, on stdin EOF, or is killed.
      child.stdin?.end();
      if (!exited(child) && !signal.aborted) await waitExit(child, 1000);
      if (!exited(child)) {
        signalGroup(child, 'SIGKILL');
        await waitExit(child, 500);
      }
      if (err instanceof PluginProcessError) throw err;
      // A closed channel means the child is exiting (or cut its stdout): report that rather than the channel.
      // An error the child answered keeps its own code, even when the child exits right after it (converting
      // it made, e.g., a permanent ERR_CONFIG_INVALID a restartable ERR_PLUGIN_PROCESS).
      if (err instanceof ClosedError) {
        throw new PluginProcessError(
          `plugin "${this.name}" process exited during start (code ${child.exitCode}, signal ${child.signalCode})`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  async stop(signal: AbortSignal): Promise<void> {
    const child = this.#child;
    this.#stopping = true;
    if (!child || exited(child)) return;
    const channel = this.#channel;
    const grace = this.#opts.exitGraceMs ?? 1000;
    let stopError: unknown = null;
    try {
      await Promise.race([channel?.request('stop', {}, signal), waitExit(child, MAX_TIMER_MS, signal)]);
    } catch (err) {
      if (!(err instanceof AbortError)) stopError = err;
    }
    child.stdin?.end();
    if (await waitExit(child, grace, signal)) {
      // The channel closed because the child exited (on `stop`, without answering, or on stdin EOF): it stopped
      // when asked, which is what stop is for; reporting ERR_CLOSED made stopAll fail with ERR_SERVICE_STOP.
      if (stopError instanceof ClosedError) stopError = null;
    } else {
      signalGroup(child, signal.aborted ? 'SIGKILL' : 'SIGTERM');
      if (!(await waitExit(child, 500, signal))) signalGroup(child, 'SIGKILL');
      await waitExit(child, 5000);
    }
    this.#bridge?.close();
    if (stopError) throw stopError;
  }

  async health(): Promise<HealthStatus> {
    const channel = this.#channel;
    if (!channel || channel.closed) return { status: 'failed', message: 'process not running' };
    const r = (await channel.request(
      'health',
      {},
      AbortSignal.timeout(this.#opts.healthTimeoutMs ?? 2000),
    )) as {
      status?: unknown;
      message?: unknown;
    } | null;
    const status = r?.status;
    if (typeof status !== 'string' || !HEALTH_LEVELS.has(status as 'ok')) {
      return { status: 'failed', message: 'invalid health answer' };
    }
    return {
      status: status as HealthStatus['status'],
      ...(typeof r?.message === 'string' ? { message: r.message } : {}),
    };
  }

  /** One round trip to the child (`ping`), for benchmarks and liveness checks. */
  async ping(payload: unknown = null): Promise<unknown> {
    const channel = this.#channel;
    if (!channel || channel.closed) throw new PluginProcessError(`plugin "${this.name}" is not running`);
    return channel.request('ping', { payload });
  }

  #pipeStderr(child: ChildProcess, log: Logger): void {
    let buf = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.length > 0) log.warn({ stderr: line.slice(0, 4096) }, 'plugin stderr');
      }
      if (buf.length > 65536) buf = buf.slice(-4096);
    });
  }
}

export function createProcessService(opts: ProcessServiceOptions): ProcessService {
  return new ProcessService(opts);
}
