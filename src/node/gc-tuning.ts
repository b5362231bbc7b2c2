/**
 * Garbage-collector tuning for the daemon process.
 *
 * Under a sustained transfer every packet allocates buffers and cipher objects. V8 then grows its new
 * space to the maximum, 2 × 16 MiB. After a full GC it sets the old generation's limit at two to four times
 * the live heap (12-15 MiB here). Whenever the remaining room is no larger than the young generation, V8
 * starts an incremental mark-compact instead of scavenging. In the daemon benchmark that meant a full GC
 * every 50-100 ms: 20-38 of them per 64 MiB echo. That cost about a fifth of a daemon's CPU, and those runs
 * echoed at half the speed of the others.
 *
 * A fixed growth of 300% over the live heap (a factor of 4, the most V8's own heuristics choose) keeps the
 * room above the young generation. In the same benchmark, daemons then did 1-4 full GCs per four runs.
 * 200% still left 20-30. The cost is more old-generation garbage between full GCs: a few tens of MiB at
 * most. V8 reads this flag each time it sets a limit, so it can be set after start-up. An explicit
 * `--heap-growing-percent` given to node wins.
 */
import v8 from 'node:v8';

/** Old-generation growth over the live heap, in percent, that the daemon asks of V8. */
export const DAEMON_HEAP_GROWING_PERCENT = 300;

const FLAG = '--heap-growing-percent';

/** True when node was started with an explicit heap-growing flag (node refuses it in NODE_OPTIONS). */
function explicitlySet(): boolean {
  return process.execArgv.some((a) => a.startsWith(FLAG) || a.startsWith('--heap_growing_percent'));
}

/** Apply the daemon's GC tuning to this process (idempotent). Returns false when node's own flag was kept. */
export function tuneDaemonGc(percent = DAEMON_HEAP_GROWING_PERCENT): boolean {
  if (explicitlySet()) return false;
  v8.setFlagsFromString(`${FLAG}=${percent}`);
  return true;
}
