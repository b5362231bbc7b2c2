/** `pilot daemon`: run a node in the foreground until SIGINT/SIGTERM (or an abort signal), then stop cleanly. */
import type { NodeConfig } from './config.js';
import { createNode, type NodeOptions, type PilotNode } from './node.js';
import { tuneDaemonGc } from './gc-tuning.js';

export interface RunDaemonOptions {
  signal?: AbortSignal;
  onReady?: (node: PilotNode) => void;
  /** Extra createNode options (logger, services). */
  node?: Omit<NodeOptions, keyof NodeConfig>;
  /** Bound on a clean stop before giving up (default 15 s). */
  stopTimeoutMs?: number;
}

export async function runDaemon(config: NodeConfig, opts: RunDaemonOptions = {}): Promise<void> {
  tuneDaemonGc();
  const node = await createNode({ ...config, ...opts.node });
  opts.onReady?.(node);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      opts.signal?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (opts.signal?.aborted) done();
    else opts.signal?.addEventListener('abort', done, { once: true });
  });
  const timeout = opts.stopTimeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    node.stop(),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        node.logger.warn({ timeoutMs: timeout }, 'clean stop took too long; exiting');
        resolve();
      }, timeout);
    }),
  ]);
  clearTimeout(timer);
}
