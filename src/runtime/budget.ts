/**
 * Run a plugin call within a time budget. The callee gets an AbortSignal that aborts at the budget (or when the
 * outer signal aborts); the returned promise settles at the latest then, whether or not the callee honours its
 * signal. A late settlement of the callee is ignored (never an unhandled rejection).
 */
import { AbortError } from '../coreapi/errors.js';
import { toError } from './panic-guard.js';

export function runWithBudget<T>(
  budgetMs: number,
  outer: AbortSignal | undefined,
  onTimeout: () => Error,
  fn: (signal: AbortSignal) => T | Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    };
    const onOuter = (): void => {
      if (done) return;
      finish();
      const err = new AbortError('the operation was aborted', { cause: outer?.reason });
      ac.abort(err);
      reject(err);
    };
    const timer = setTimeout(() => {
      if (done) return;
      finish();
      const err = onTimeout();
      ac.abort(err);
      reject(err);
    }, budgetMs);
    if (outer?.aborted) {
      onOuter();
      return;
    }
    outer?.addEventListener('abort', onOuter, { once: true });
    Promise.resolve()
      .then(() => fn(ac.signal))
      .then(
        (v) => {
          if (done) return;
          finish();
          resolve(v);
        },
        (err: unknown) => {
          if (done) return;
          finish();
          reject(toError(err));
        },
      );
  });
}
