import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON_HEAP_GROWING_PERCENT, tuneDaemonGc } from '../../src/node/gc-tuning.js';

describe('daemon GC tuning', () => {
  const saved = [...process.execArgv];
  afterEach(() => {
    process.execArgv.splice(0, process.execArgv.length, ...saved);
  });

  it('keeps an explicit --heap-growing-percent given to node', () => {
    process.execArgv.push('--heap-growing-percent=50');
    expect(tuneDaemonGc().heapGrowingPercent).toBe(false);
    process.execArgv.splice(0, process.execArgv.length, ...saved, '--heap_growing_percent=50');
    expect(tuneDaemonGc().heapGrowingPercent).toBe(false);
  });

  it('keeps an explicit array-buffer sweeping choice given to node', () => {
    process.execArgv.push('--concurrent-array-buffer-sweeping');
    expect(tuneDaemonGc()).toEqual({ heapGrowingPercent: true, mainThreadBufferSweeping: false });
    process.execArgv.splice(0, process.execArgv.length, ...saved, '--no_concurrent_array_buffer_sweeping');
    expect(tuneDaemonGc().mainThreadBufferSweeping).toBe(false);
  });

  it('applies its own settings otherwise', () => {
    expect(process.execArgv.some((a) => a.includes('growing') || a.includes('sweeping'))).toBe(false);
    expect(DAEMON_HEAP_GROWING_PERCENT).toBeGreaterThan(100);
    expect(tuneDaemonGc()).toEqual({ heapGrowingPercent: true, mainThreadBufferSweeping: true });
  });
});
