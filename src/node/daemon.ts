/** `pilot daemon`: run a node in the foreground until SIGINT/SIGTERM (or an abort signal), then stop cleanly. */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AbortError } from '../coreapi/errors.js';
import { prepareSocketPath } from '../ipc/socket-file.js';
import { ConfigError, ensureDataDir, type NodeConfig } from './config.js';
import { createNode, type NodeOptions, type PilotNode } from './node.js';
import { tuneDaemonGc } from './gc-tuning.js';

export interface RunDaemonOptions {
  signal?: AbortSignal;
  onReady?: (node: PilotNode) => void;
  /** Extra createNode options (logger, services). */
  node?: Omit<NodeOptions, keyof NodeConfig>;
  /**
   * Bound on a clean stop before giving up (default 15 s); the services and open streams get it less a reserve
   * (≤ 3 s) in which the node still deregisters and removes its IPC socket. Also bounds the wait for an
   * interrupted start to undo itself.
   */
  stopTimeoutMs?: number;
}

/**
 * Check the IPC socket path before anything starts: its directory must exist, and a live daemon on it is
 * refused (`ERR_IPC_SOCKET_IN_USE`). Found only when the node is up, a second daemon with the same identity
 * would first re-register the live daemon's node at the registry with its own (soon dead) endpoint.
 */
async function checkSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new ConfigError('ERR_CONFIG_INVALID', `config "socket": cannot use directory ${dir} (${code})`, {
      cause,
      details: { key: 'socket', value: path },
    });
  }
  if (!isDir) {
    throw new ConfigError('ERR_CONFIG_INVALID', `config "socket": ${dir} is not a directory`, {
      details: { key: 'socket', value: path },
    });
  }
  await prepareSocketPath(path);
}

/** Resolves true once `p` settled, false when `ms` passed first. */
async function withinBound(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    p.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return r;
}

/** How long a stop (SIGINT/SIGTERM) may take before the daemon gives up waiting for it (15 s). */
export const DAEMON_STOP_TIMEOUT_MS = 15_000;

export async function runDaemon(config: NodeConfig, opts: RunDaemonOptions = {}): Promise<void> {
  tuneDaemonGc();
  // A stop request (SIGINT/SIGTERM, the abort signal) counts from the start, also while the node is starting.
  const stop = new AbortController();
  const requestStop = (): void => stop.abort();
  const stopped = new Promise<void>((resolve) =>
    stop.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  process.once('SIGINT', requestStop);
  process.once('SIGTERM', requestStop);
  if (opts.signal?.aborted) requestStop();
  else opts.signal?.addEventListener('abort', requestStop, { once: true });
  const interrupted = (): Error =>
    opts.signal?.aborted && opts.signal.reason instanceof Error
      ? opts.signal.reason
      : new AbortError('the daemon was interrupted while starting');
  try {
    ensureDataDir(config.dataDir);
    if (opts.node?.ipc !== false) await checkSocketPath(config.socket);
    if (stop.signal.aborted) throw interrupted();
    const starting = createNode({ ...config, ...opts.node, signal: stop.signal });
    const timeout = opts.stopTimeoutMs ?? DAEMON_STOP_TIMEOUT_MS;
    const node = await Promise.race([starting, stopped.then(() => null)]);
    if (node === null) {
      // The start sees the abort at its next step and undoes what it did (deregisters a registered node,
      // removes its socket): wait for that (bounded) before reporting the interrupt, as the process exits next.
      const settled = starting.then(
        (n) => n.stop(),
        () => {},
      );
      await withinBound(
        settled.catch(() => {}),
        timeout,
      );
      throw interrupted();
    }
    opts.onReady?.(node);
    await stopped;
    // The graceful part (services, FIN to open streams) gets the bound less a reserve for deregistering,
    // removing the socket and closing the sockets.
    const cut = new AbortController();
    const cutTimer = setTimeout(() => cut.abort(), timeout - Math.min(3000, Math.floor(timeout / 2)));
    const done = await withinBound(node.stop({ signal: cut.signal }), timeout);
    clearTimeout(cutTimer);
    if (!done) node.logger.warn({ timeoutMs: timeout }, 'clean stop took too long; exiting');
  } finally {
    process.off('SIGINT', requestStop);
    process.off('SIGTERM', requestStop);
    opts.signal?.removeEventListener('abort', requestStop);
  }
}
