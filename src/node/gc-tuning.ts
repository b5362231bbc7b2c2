/**
 * Garbage-collector tuning for the daemon process (and for every benchmark process that stands for one).
 *
 * 1. Heap growth. Under a sustained transfer every packet allocates buffers and cipher objects. V8 then grows
 *    its new space to the maximum, 2 × 16 MiB. After a full GC it sets the old generation's limit at two to
 *    four times the live heap (12-15 MiB here). Whenever the remaining room is no larger than the young
 *    generation, V8 starts an incremental mark-compact instead of scavenging. In the daemon benchmark that
 *    meant a full GC every 50-100 ms: 20-38 of them per 64 MiB echo. That cost about a fifth of a daemon's
 *    CPU, and those runs echoed at half the speed of the others. A fixed growth of 300% over the live heap (a
 *    factor of 4, the most V8's own heuristics choose) keeps the room above the young generation: daemons then
 *    did 1-4 full GCs per four runs. The cost is more old-generation garbage between full GCs, a few tens of
 *    MiB at most.
 *
 * 2. Array-buffer sweeping on the main thread. Every `cipher.update()` returns a fresh buffer whose memory
 *    comes from malloc. By default V8 frees dead buffers from a background thread, and that thread and the
 *    main thread then fight over the same malloc arena lock: `perf` showed a quarter of the time of an
 *    `update()` loop in futex waits and wake-ups. Freeing them on the main thread, during the scavenge that
 *    found them dead, took a 1,234-byte AES `update()` from 1.6-1.7 µs to 1.0 µs, and raised the zero-loss
 *    rate of the encrypted tunnel benchmark by about a tenth.
 *
 * V8 reads both flags each time it uses them, so they can be set after start-up. A flag given to node
 * explicitly (either spelling) wins over ours.
 */
import v8 from 'node:v8';

/** Old-generation growth over the live heap, in percent, that the daemon asks of V8. */
export const DAEMON_HEAP_GROWING_PERCENT = 300;

const GROWING = ['--heap-growing-percent', '--heap_growing_percent'];
const SWEEPING = [
  '--concurrent-array-buffer-sweeping',
  '--concurrent_array_buffer_sweeping',
  '--no-concurrent-array-buffer-sweeping',
  '--no_concurrent_array_buffer_sweeping',
  '--noconcurrent-array-buffer-sweeping',
  '--noconcurrent_array_buffer_sweeping',
];

/** True when node was started with one of these flags (with or without a value). */
function explicitlySet(names: string[]): boolean {
  return process.execArgv.some((a) => names.some((n) => a === n || a.startsWith(`${n}=`)));
}

/** What `tuneDaemonGc` applied: false for a setting node's own command line already decided. */
export interface GcTuning {
  heapGrowingPercent: boolean;
  mainThreadBufferSweeping: boolean;
}

/** Apply the daemon's GC tuning to this process (idempotent). */
export function tuneDaemonGc(percent = DAEMON_HEAP_GROWING_PERCENT): GcTuning {
  const applied: GcTuning = { heapGrowingPercent: false, mainThreadBufferSweeping: false };
  if (!explicitlySet(GROWING)) {
    v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
    applied.heapGrowingPercent = true;
  }
  if (!explicitlySet(SWEEPING)) {
    v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
    applied.mainThreadBufferSweeping = true;
  }
  return applied;
}
