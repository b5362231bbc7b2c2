import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON_HEAP_GROWING_PERCENT, tuneDaemonGc } from '../../src/node/gc-tuning.js';

describe('daemon GC tuning', () => {
  const saved = [...process.execArgv];
  afterEach(() => {
    process.execArgv.splice(0, process.execArgv.length, ...saved);
  });

  it('keeps an explicit --heap-growing-percent given to node', () => {
    process.execArgv.push('--heap-growing-percent=50');
    expect(tuneDaemonGc()).toBe(false);
    process.execArgv.splice(0, process.execArgv.length, ...saved, '--heap_growing_percent=50');
    expect(tuneDaemonGc()).toBe(false);
  });

  it('applies its own growth otherwise', () => {
    expect(process.execArgv.some((a) => a.includes('growing'))).toBe(false);
    expect(DAEMON_HEAP_GROWING_PERCENT).toBeGreaterThan(100);
    expect(tuneDaemonGc()).toBe(true);
  });
});
