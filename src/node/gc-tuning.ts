/**
 * Garbage-collector tuning for the daemon process.
 *
 * Under a sustained transfer every packet allocates buffers and cipher objects. V8 then grows its new
 * space to the maximum, 2 × 16 MiB. After a full GC it may set the old generation's limit at only about
 * twice the live heap: 28 MiB over 12.7 MiB, so about 16 MiB of headroom, no more than the new space.
 * From then on V8 starts an incremental mark-compact every 50-100 ms instead of scavenging. In the
 * daemon benchmark, 3 of 4 daemon starts fell into this and spent about a fifth of their CPU on GC.
 * Those runs echoed at half the speed of the others.
 *
 * A fixed growth of 200% over the live heap keeps the headroom above the new space. In the same benchmark
 * no daemon fell into the loop any more. The cost is more old-generation garbage between full GCs
 * (a few tens of MiB at most). V8 reads this flag each time it sets a limit, so it can be set after
 * start-up. An explicit `--heap-growing-percent` given to node wins.
 */
import v8 from 'node:v8';

/** Old-generation growth over the live heap, in percent, that the daemon asks of V8. */
export const DAEMON_HEAP_GROWING_PERCENT = 200;

const FLAG = '--heap-growing-percent';

/** True when node was started with an explicit heap-growing flag (command line or NODE_OPTIONS). */
function explicitlySet(): boolean {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return given.some((a) => a.startsWith(FLAG) || a.startsWith('--heap_growing_percent'));
}

/** Apply the daemon's GC tuning (once per process; later calls are no-ops). Returns whether it applied. */
export function tuneDaemonGc(percent = DAEMON_HEAP_GROWING_PERCENT): boolean {
  if (explicitlySet()) return false;
  v8.setFlagsFromString(`${FLAG}=${percent}`);
  return true;
}
