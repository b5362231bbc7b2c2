/** Tiny request/response over a forked child's IPC channel, for benchmark workers. */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

type Msg = {
  id?: number;
  cmd?: string;
  args?: unknown;
  result?: unknown;
  error?: string;
  event?: string;
  [k: string]: unknown;
};

/** In the worker: serve commands. */
export function serve(handlers: Record<string, (args: any) => unknown>): void {
  process.on('message', (m: Msg) => {
    if (m.cmd === 'exit') process.exit(0);
    const h = handlers[m.cmd ?? ''];
    if (!h) {
      process.send?.({ id: m.id, error: `unknown command ${m.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => h(m.args))
      .then(
        (result) => process.send?.({ id: m.id, result }),
        (err: unknown) => process.send?.({ id: m.id, error: (err as Error)?.stack ?? String(err) }),
      );
  });
  process.send?.({ event: 'ready' });
}

/** Memory in use (heap + external + array buffers) after forcing GC (run the worker with --expose-gc). */
export function memoryInUse(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

/** Post an unsolicited event from the worker. */
export function emitEvent(event: string, data: Record<string, unknown>): void {
  process.send?.({ event, ...data });
}

/** In the parent: a worker handle. */
export class Worker {
  #child: ChildProcess;
  #next = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #events: Msg[] = [];
  #eventWaiters: { event: string; resolve: (m: Msg) => void }[] = [];

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: Msg) => {
      if (m.id !== undefined) {
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.error) p?.reject(new Error(m.error));
        else p?.resolve(m.result);
        return;
      }
      const w = this.#eventWaiters.findIndex((x) => x.event === m.event);
      if (w >= 0) this.#eventWaiters.splice(w, 1)[0].resolve(m);
      else this.#events.push(m);
    });
  }

  static async start(file: string, execArgv: string[] = []): Promise<Worker> {
    const child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    const w = new Worker(child);
    await w.event('ready');
    return w;
  }

  call<T = any>(cmd: string, args: unknown = {}): Promise<T> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, cmd, args });
    });
  }

  event(name: string): Promise<Msg> {
    const i = this.#events.findIndex((m) => m.event === name);
    if (i >= 0) return Promise.resolve(this.#events.splice(i, 1)[0]);
    return new Promise((resolve) => this.#eventWaiters.push({ event: name, resolve }));
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    this.#child.send({ cmd: 'exit' });
    await once(this.#child, 'exit');
  }
}
