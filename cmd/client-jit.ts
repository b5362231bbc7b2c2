/**
 * V8 tuning for `pilot` client processes (every command that talks to a running daemon).
 *
 * A client command lives for a fraction of a second to a few seconds, but `bench`, `connect`, `send-file`
 * and `recv` move every byte through it. V8 sends a function to its optimising compiler (TurboFan) once the
 * function has used up an "interrupt budget" of executed bytecode. With the default budget, a 64 MiB
 * `pilot bench` compiled about 60 functions in the background, for 190 ms of CPU on a compiler thread. The
 * whole client used 3.4 ms of CPU per MiB, and on a 2-core machine that thread ran beside the two daemons
 * that carry the data.
 *
 * Eight times the default budget leaves code that runs only briefly in the baseline tiers. Only code that
 * stays hot is optimised. On the same runs this meant 20 compilations and 38 ms of compiler time, 2.4 ms of
 * client CPU per MiB at 64 MiB, and no change in throughput at 512 MiB (1.5 against 1.6 ms per MiB).
 *
 * The daemon keeps V8's defaults: it runs for days, and optimised code is what it wants. V8 reads the
 * budget whenever it gives a function a new one, so the flag can be set after start-up. A budget given to
 * node explicitly wins.
 */
import v8 from 'node:v8';

/** V8's default `--interrupt-budget` (V8 11, Node 20 and 22). */
const V8_DEFAULT_INTERRUPT_BUDGET = 66 * 1024;

/** The client's budget: 8 × V8's default. */
export const CLIENT_INTERRUPT_BUDGET = 8 * V8_DEFAULT_INTERRUPT_BUDGET;

const NAMES = ['--interrupt-budget', '--interrupt_budget'];

/**
 * Give this process the client's interrupt budget, unless node's command line sets one (then false).
 * Idempotent.
 */
export function tuneClientJit(): boolean {
  if (process.execArgv.some((a) => NAMES.some((n) => a === n || a.startsWith(`${n}=`)))) return false;
  v8.setFlagsFromString(`--interrupt-budget=${CLIENT_INTERRUPT_BUDGET}`);
  return true;
}
