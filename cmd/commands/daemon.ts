/**
 * `pilot daemon [flags]` (foreground), `pilot daemon start|stop|status`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatAddr, loadConfig, MAX_TIMER_MS, type NodeConfig } from '../../src/client.js';
import type { CommandContext } from '../command-context.js';
import { command, flag, type CommandInput, type FlagSpec } from '../command-spec.js';
import {
  NOTIFY_ENV,
  PID_FILE_ENV,
  isDaemonProcess,
  logFilePath,
  pidFilePath,
  probeInfo,
  readPid,
  removePidFile,
  startBackground,
  stopProcess,
  type ChildMessage,
} from '../daemon-process.js';
import { CliError, toCliError } from '../errors.js';
import { humanDuration } from '../output.js';

/** Daemon configuration flags (reference §12 plus ours); values are validated by loadConfig. */
export const DAEMON_FLAGS: readonly FlagSpec[] = [
  flag('config', 'string', 'JSON config file (default: $PILOT_HOME/config.json when it exists)', {
    placeholder: 'path',
  }),
  flag('registry', 'string', 'registry host:port (default: an embedded registry on loopback)', {
    placeholder: 'host:port',
  }),
  flag('beacon', 'string', 'beacon host:port', { placeholder: 'host:port' }),
  flag('listen', 'string', 'tunnel UDP address, port 0 = any (default 127.0.0.1:0)', {
    placeholder: 'host:port',
  }),
  flag('endpoint', 'string', 'fixed public endpoint to register (skips discovery)', {
    placeholder: 'host:port',
  }),
  flag(
    'identity',
    'string',
    'identity key file (created when missing; `daemon start` default $PILOT_HOME/identity.key)',
    {
      placeholder: 'path',
    },
  ),
  flag('hostname', 'string', 'hostname to claim at the registry', { placeholder: 'name' }),
  flag('public', 'bool', 'make this node publicly resolvable'),
  flag('owner', 'string', 'owner id (e-mail) for key recovery', { placeholder: 'email' }),
  flag('no-encrypt', 'bool', 'disable tunnel encryption'),
  flag('registry-tls', 'bool', 'connect to the registry over TLS (needs --registry-fingerprint)'),
  flag('registry-fingerprint', 'string', "pinned SHA-256 of the registry's certificate (hex)", {
    placeholder: 'hex',
  }),
  flag('webhook', 'string', 'POST every event to this URL', { placeholder: 'url' }),
  flag(
    'keepalive',
    'string',
    'keepalive / heartbeat interval (default 30s; registry heartbeats at most 60s apart)',
    {
      placeholder: 'dur',
    },
  ),
  flag('idle-timeout', 'string', 'idle connection timeout (default 120s)', { placeholder: 'dur' }),
  flag('time-wait', 'string', 'TIME_WAIT duration (default 10s)', { placeholder: 'dur' }),
  flag('syn-rate-limit', 'string', 'SYNs per second (default 100)', { placeholder: 'n' }),
  flag('syn-rate-per-source', 'string', 'SYNs per second from one node (default 10)', { placeholder: 'n' }),
  flag('max-conns-per-port', 'string', 'connections per port (default 1024)', { placeholder: 'n' }),
  flag('max-conns-total', 'string', 'connections in total (default 4096)', { placeholder: 'n' }),
  flag('tunnel-crypto', 'string', 'tunnel key derivation: v2 (default) or v1 for original daemons', {
    choices: ['v1', 'v2'],
  }),
  flag('data-dir', 'string', 'inbox, received files, embedded registry store (default $PILOT_HOME)', {
    placeholder: 'path',
  }),
  flag('embedded-registry', 'string', 'embedded registry address (default 127.0.0.1:9000)', {
    placeholder: 'host:port',
  }),
  flag('embedded-beacon', 'string', 'embedded beacon address (default 127.0.0.1:9001)', {
    placeholder: 'host:port',
  }),
  flag('plugins-dir', 'string', 'directory of external plugins', { placeholder: 'path' }),
  flag('disable', 'list', 'built-in services to leave out (comma-separated)', { placeholder: 'names' }),
  flag('no-echo', 'bool', 'disable the echo service (port 7)'),
  flag('no-stdio', 'bool', 'disable the stdio service (port 1000; off unless --stdio)'),
  flag(
    'stdio',
    'bool',
    'serve the stdio convention on port 1000 (off by default: port 1000 stays free for applications)',
  ),
  flag('no-dataexchange', 'bool', 'disable data exchange (port 1001)'),
  flag('no-eventstream', 'bool', 'disable the event stream (port 1002)'),
  flag('no-webhook', 'bool', 'disable the webhook service'),
  flag('log-level', 'string', 'trace, debug, info, warn, error or silent (default info)', {
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
  }),
  flag('log-format', 'string', 'text, pretty or json (default text)', {
    choices: ['text', 'pretty', 'json'],
  }),
];

/**
 * defaults ← config file ← environment ← flags. Each flag given on the command line is one key: `--no-echo`
 * (`no-echo: true`) adds echo to the disabled services and keeps the file's others; `--disable` replaces the list.
 */
export function daemonConfig(ctx: CommandContext, input: CommandInput): NodeConfig {
  const flags: Record<string, unknown> = {};
  for (const f of DAEMON_FLAGS) {
    if (!input.given.has(f.name) || f.name === 'config') continue;
    flags[f.name] = input.flags[f.name];
  }
  if (ctx.socketFlag !== undefined) flags.socket = ctx.socketFlag;
  let file = input.flags.config as string | undefined;
  if (file === undefined) {
    const dflt = join(ctx.home, 'config.json');
    if (existsSync(dflt)) file = dflt;
  }
  return loadConfig({ file, flags, env: ctx.env });
}

function notifyParent(ctx: CommandContext, m: ChildMessage): Promise<void> {
  if (ctx.env[NOTIFY_ENV] !== '1' || typeof process.send !== 'function' || !process.connected) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    process.send?.(m, undefined, {}, () => {
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}

async function runForeground(ctx: CommandContext, config: NodeConfig): Promise<undefined> {
  const pidFile = ctx.env[PID_FILE_ENV];
  // A second SIGINT/SIGTERM during a slow stop exits at once (process.exit): the pid file goes then too.
  const removePid = (): void => {
    if (pidFile) removePidFile(pidFile, process.pid);
  };
  process.once('exit', removePid);
  try {
    // The node's code loads only for the daemon itself, not for the CLI's other commands.
    const { runDaemon } = await import('../../src/node/index.js');
    await runDaemon(config, {
      signal: ctx.signal,
      onReady: (node) => {
        const info = {
          pid: process.pid,
          node_id: node.nodeId,
          address: formatAddr(node.addr),
          hostname: node.config.hostname ?? '',
          socket: config.socket,
          registry: node.registryAddr,
        };
        if (ctx.out.json) ctx.out.ok(info);
        else
          ctx.out.line(
            `pilot daemon running: node ${info.node_id} (${info.address}), socket ${info.socket}, registry ${info.registry}`,
          );
        void notifyParent(ctx, { type: 'ready', pid: process.pid, info });
      },
    });
  } catch (err) {
    const e = toCliError(err);
    await notifyParent(ctx, { type: 'error', code: e.cliCode, message: e.message, hint: e.hint });
    throw e;
  } finally {
    process.off('exit', removePid);
    removePid();
  }
  return undefined;
}

/**
 * Options of `daemon start` itself (with whether they take a value), not passed to the child: the child is a
 * plain `pilot daemon`, which has no `--foreground` / `--no-foreground` (what `--foreground=false` becomes).
 */
const START_ONLY: Record<string, boolean> = {
  '--foreground': false,
  '--no-foreground': false,
  '--timeout': true,
  '--socket': true,
};

/** Arguments for the forked `pilot daemon`: everything after `daemon start` but start's own options. */
function childArgs(argv: readonly string[], config: NodeConfig, identity: string | null): string[] {
  const i = argv.findIndex((a, k) => a === 'daemon' && argv[k + 1] === 'start');
  const rest = [...argv.slice(0, Math.max(0, i)), ...argv.slice(i >= 0 ? i + 2 : 0)];
  const args: string[] = [];
  for (let k = 0; k < rest.length; k++) {
    const name = rest[k].split('=')[0];
    if (name in START_ONLY) {
      if (START_ONLY[name] && !rest[k].includes('=')) k++;
      continue;
    }
    args.push(rest[k]);
  }
  const result = ['daemon', ...args, '--socket', config.socket];
  if (identity) result.push('--identity', identity);
  return result;
}

interface StartData {
  pid: number;
  node_id: number;
  address: string;
  hostname: string;
  socket: string;
  log_file: string;
}

interface StatusData {
  running: boolean;
  responsive: boolean;
  pid: number | null;
  pid_file: string;
  socket: string;
  log_file: string;
  node_id?: number;
  address?: string;
  hostname?: string;
  uptime_secs?: number;
  peers?: number;
  connections?: number;
}

export const daemonCommands = [
  command<undefined>({
    name: 'daemon',
    description: 'run the daemon in the foreground until SIGINT/SIGTERM',
    flags: DAEMON_FLAGS,
    returns: {
      pid: 'daemon process id (printed once, when ready)',
      node_id: 'node ID',
      address: 'node address',
      hostname: 'hostname',
      socket: 'IPC socket',
      registry: 'registry host:port',
    },
    run: (ctx, input) => runForeground(ctx, daemonConfig(ctx, input)),
  }),

  command<StartData | undefined>({
    name: 'daemon start',
    description: 'start the daemon in the background; waits until it answers on its socket',
    flags: [
      ...DAEMON_FLAGS,
      flag('foreground', 'bool', 'run in the foreground instead (like `pilot daemon`)'),
      flag('timeout', 'duration', 'how long to wait for the daemon to answer', { default: '15s' }),
    ],
    returns: {
      pid: 'daemon process id',
      node_id: 'node ID',
      address: 'node address',
      hostname: 'hostname ("" when none)',
      socket: 'IPC socket',
      log_file: 'log file',
    },
    async run(ctx, input) {
      const config = daemonConfig(ctx, input);
      if (input.flags.foreground) return runForeground(ctx, config);
      const pidFile = pidFilePath(ctx.home);
      const old = readPid(pidFile);
      if (old !== null && isDaemonProcess(old)) {
        throw new CliError('already_exists', `the daemon is already running (pid ${old})`, {
          hint: 'stop it with `pilot daemon stop`',
        });
      }
      if (old !== null) removePidFile(pidFile);
      if (await probeInfo(config.socket, 1000)) {
        throw new CliError('already_exists', `a daemon already answers on ${config.socket}`, {
          hint: 'use another --socket, or stop that daemon',
        });
      }
      const identity = config.identity === null ? join(ctx.home, 'identity.key') : null;
      const { pid, info } = await startBackground({
        execPath: process.execPath,
        execArgv: ctx.self.execArgv,
        script: ctx.self.script,
        args: childArgs(input.argv, config, identity),
        env: ctx.env,
        home: ctx.home,
        socket: config.socket,
        // 0: no time limit, as for every other --timeout (the wait still ends when the child fails or exits).
        timeoutMs: (input.flags.timeout as number) || MAX_TIMER_MS,
        signal: ctx.signal,
      });
      return {
        pid,
        node_id: info.node_id,
        address: info.address,
        hostname: info.hostname ?? '',
        socket: config.socket,
        log_file: logFilePath(ctx.home),
      };
    },
    text: (d, out) => {
      if (!d) return;
      out.line(`daemon started (pid ${d.pid})`);
      out.fields(d as unknown as Record<string, unknown>, [
        'node_id',
        'address',
        'hostname',
        'socket',
        'log_file',
      ]);
    },
  }),

  command<{ pid: number; forced: boolean }>({
    name: 'daemon stop',
    description: 'stop the background daemon: SIGTERM, then SIGKILL after the grace period',
    flags: [flag('timeout', 'duration', 'grace period before SIGKILL', { default: '20s' })],
    returns: { pid: 'process id', forced: 'true when it had to be killed' },
    async run(ctx, input) {
      const pidFile = pidFilePath(ctx.home);
      const pid = readPid(pidFile);
      if (pid === null || !isDaemonProcess(pid)) {
        if (pid !== null) removePidFile(pidFile);
        throw new CliError('not_running', `the daemon is not running (no live pid in ${pidFile})`, {
          hint: 'a daemon started in the foreground is stopped with Ctrl-C',
        });
      }
      const r = await stopProcess(pid, input.flags.timeout as number);
      removePidFile(pidFile, pid);
      return r;
    },
    text: (d, out) => out.line(`daemon stopped (pid ${d.pid}${d.forced ? ', killed' : ''})`),
  }),

  command<StatusData | undefined>({
    name: 'daemon status',
    description: 'is the daemon running and answering?',
    flags: [flag('check', 'bool', 'exit 0 when the daemon answers (no output), else 1 with not_running')],
    returns: {
      running: 'a daemon process or socket is alive',
      responsive: 'Info answered on the socket',
      pid: 'pid from the pid file (null when none)',
      pid_file: 'pid file',
      socket: 'IPC socket',
      log_file: 'log file',
      node_id: 'when responsive',
      address: 'when responsive',
      hostname: 'when responsive',
      uptime_secs: 'when responsive',
      peers: 'when responsive',
      connections: 'when responsive',
    },
    async run(ctx, input) {
      const pidFile = pidFilePath(ctx.home);
      const filePid = readPid(pidFile);
      const pid = filePid !== null && isDaemonProcess(filePid) ? filePid : null;
      const info = await probeInfo(ctx.socketPath, 2000);
      if (input.flags.check && !info) {
        throw new CliError('not_running', `no daemon answers on ${ctx.socketPath}`, {
          hint: 'start the daemon with `pilot daemon start`',
        });
      }
      if (input.flags.check && !ctx.out.json) return undefined;
      const data: StatusData = {
        running: pid !== null || info !== null,
        responsive: info !== null,
        pid,
        pid_file: pidFile,
        socket: ctx.socketPath,
        log_file: logFilePath(ctx.home),
      };
      if (info) {
        Object.assign(data, {
          node_id: info.node_id,
          address: info.address,
          hostname: info.hostname ?? '',
          uptime_secs: info.uptime_secs,
          peers: info.peers,
          connections: info.connections,
        });
      }
      return data;
    },
    text: (d, out) => {
      if (!d) return;
      out.line(
        d.responsive
          ? 'daemon is running'
          : d.running
            ? 'daemon process is alive but not answering'
            : 'daemon is not running',
      );
      out.fields(
        { ...d, uptime: d.uptime_secs === undefined ? undefined : humanDuration(d.uptime_secs) } as Record<
          string,
          unknown
        >,
        [
          'pid',
          'node_id',
          'address',
          'hostname',
          'uptime',
          'peers',
          'connections',
          'socket',
          'pid_file',
          'log_file',
        ],
      );
    },
  }),
];
