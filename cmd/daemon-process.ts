/**
 * The background daemon: pid file, log file, forking `pilot daemon`, waiting until it answers, stopping it.
 *
 * `pilot daemon start` spawns `pilot daemon …` detached, with stdout/stderr appended to the log file and a
 * Node IPC channel on which the child reports `ready` (or the error that stopped it) once; the parent then
 * checks that Info answers on the socket and lets the child go.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type DaemonInfo } from '../src/client.js';
import { CliError, type CliErrorCode } from './errors.js';
import { deadline, sleep } from './io-util.js';

export const PID_FILE = 'pilot.pid';
export const LOG_FILE = 'pilot.log';
/** Set in the child's environment by `daemon start`. */
export const NOTIFY_ENV = 'PILOT_DAEMON_NOTIFY';
export const PID_FILE_ENV = 'PILOT_PID_FILE';

/** What the child sends on its IPC channel. */
export type ChildMessage =
  | { type: 'ready'; pid: number; info: Record<string, unknown> }
  | { type: 'error'; code: CliErrorCode; message: string; hint?: string };

export function pidFilePath(home: string): string {
  return join(home, PID_FILE);
}

export function logFilePath(home: string): string {
  return join(home, LOG_FILE);
}

/** The pid in the pid file, or null (missing, unreadable or garbage). */
export function readPid(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function removePidFile(path: string, onlyIf?: number): void {
  if (onlyIf !== undefined && readPid(path) !== onlyIf) return;
  rmSync(path, { force: true });
}

/** True while a process with this pid exists (a zombie waiting to be reaped counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Linux: `pid (comm) S ...`; state Z = exited, not yet reaped.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * True when `pid` is alive and is a `pilot daemon` process. After a crash or a reboot, the pid in a stale pid
 * file may belong to an unrelated process, which must be neither signalled nor taken for a running daemon:
 * where /proc shows the command line (Linux), it must hold the `daemon` argument the CLI starts it with.
 */
export function isDaemonProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no /proc here: trust the pid file
  }
  return cmdline.split('\0').includes('daemon');
}

/** Info from the daemon on `socket`, or null when nothing answers within `timeoutMs`. */
export async function probeInfo(socket: string, timeoutMs = 2000): Promise<DaemonInfo | null> {
  const signal = deadline(new AbortController().signal, timeoutMs);
  let driver;
  try {
    driver = await connect(socket, { signal, helloTimeoutMs: Math.min(1000, timeoutMs) });
  } catch {
    return null;
  }
  try {
    return await Promise.race([
      driver.info(),
      new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null), { once: true })),
    ]);
  } catch {
    return null;
  } finally {
    await driver.close().catch(() => {});
  }
}

/** The last `n` non-empty lines of a file ('' when unreadable). */
export function tail(path: string, n = 5, from = 0): string {
  try {
    const text = readFileSync(path).subarray(from).toString('utf8');
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}

export interface StartOptions {
  /** node binary, its flags and the CLI script. */
  execPath: string;
  execArgv: readonly string[];
  script: string;
  /** Arguments after `pilot` for the child (`daemon …`). */
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  home: string;
  socket: string;
  timeoutMs: number;
  /** Interrupts the wait (SIGINT/SIGTERM of the CLI): the child is stopped and the reason thrown. */
  signal?: AbortSignal;
}

export interface StartResult {
  pid: number;
  info: DaemonInfo;
}

/** Fork the daemon and wait until it answers on its socket. */
export async function startBackground(o: StartOptions): Promise<StartResult> {
  const pidFile = pidFilePath(o.home);
  const logFile = logFilePath(o.home);
  let logFd: number;
  try {
    mkdirSync(o.home, { recursive: true, mode: 0o700 });
    logFd = openSync(logFile, 'a', 0o600);
  } catch (err) {
    throw new CliError(
      'invalid_argument',
      `cannot use ${o.home} for the daemon's pid and log files: ${(err as Error).message}`,
      { cause: err, hint: 'PILOT_HOME must be a writable directory' },
    );
  }
  const logStart = fstatSync(logFd).size;
  const child = spawn(o.execPath, [...o.execArgv, o.script, ...o.args], {
    detached: true,
    stdio: ['ignore', logFd, logFd, 'ipc'],
    env: { ...o.env, [NOTIFY_ENV]: '1', [PID_FILE_ENV]: pidFile },
  });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) {
    throw new CliError('internal', 'could not start the daemon process');
  }
  writeFileSync(pidFile, `${pid}\n`, { mode: 0o600 });

  const until = Date.now() + o.timeoutMs;
  let message: ChildMessage | null = null;
  let exited: number | string | null = null;
  child.on('message', (m: ChildMessage) => {
    message ??= m;
  });
  // 'close' comes after the IPC channel closed, so a message sent just before exiting is already in.
  child.on('close', (code, signal) => {
    exited = code ?? signal ?? 'unknown';
  });
  child.on('error', () => {});
  const fail = (code: CliErrorCode, text: string, hint?: string): never => {
    removePidFile(pidFile, pid);
    throw new CliError(code, text, { hint });
  };
  try {
    const wait = deadline(o.signal ?? new AbortController().signal, Math.max(1, until - Date.now()));
    while (!wait.aborted) {
      const m = message as ChildMessage | null;
      if (m?.type === 'error') fail(m.code, m.message, m.hint ?? `see the log: ${logFile}`);
      if (exited !== null) {
        const last = tail(logFile, 3, logStart);
        fail(
          'internal',
          `the daemon exited during start (${String(exited)})${last ? `:\n${last}` : ''}`,
          `see the log: ${logFile}`,
        );
      }
      if (m?.type === 'ready') {
        const info = await probeInfo(o.socket, Math.max(100, Math.min(2000, until - Date.now())));
        if (info) return { pid, info };
      }
      await sleep(50, wait);
    }
    await stopProcess(pid, 2000);
    if (o.signal?.aborted) {
      removePidFile(pidFile, pid);
      throw o.signal.reason instanceof Error
        ? o.signal.reason
        : new CliError('internal', 'interrupted while the daemon was starting');
    }
    return fail(
      'timeout',
      `the daemon did not answer on ${o.socket} within ${o.timeoutMs / 1000} s`,
      `see the log: ${logFile}`,
    );
  } finally {
    child.removeAllListeners('message');
    if (child.connected) child.disconnect();
    child.unref();
  }
}

export interface StopResult {
  pid: number;
  forced: boolean;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. */
export async function stopProcess(pid: number, graceMs: number): Promise<StopResult> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return { pid, forced: false };
    throw err;
  }
  const until = Date.now() + graceMs;
  const never = new AbortController().signal;
  while (Date.now() < until) {
    if (!isAlive(pid)) return { pid, forced: false };
    await sleep(50, never);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // exited just now
  }
  const killDeadline = Date.now() + 2000;
  while (isAlive(pid) && Date.now() < killDeadline) await sleep(20, never);
  return { pid, forced: true };
}
