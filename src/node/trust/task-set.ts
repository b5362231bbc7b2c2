/** Background work of the trust manager, tracked so that `stop()` can wait for it. */
import type { Logger } from '../../coreapi/logger.js';

export class TaskSet {
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  get size(): number {
    return this.#tasks.size;
  }

  /** Track `p` until it settles (its rejection is the caller's business). */
  track<T>(p: Promise<T>): Promise<T> {
    this.#tasks.add(p);
    const forget = (): void => {
      this.#tasks.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  /** Track `p`, logging a rejection as a warning. */
  run(what: string, p: Promise<unknown>): void {
    this.track(
      p.catch((err: unknown) =>
        this.#log.warn({ op: what, err: (err as Error)?.message }, 'background failed'),
      ),
    );
  }

  /** Wait until nothing is tracked (work started meanwhile included). */
  async drain(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }
}
