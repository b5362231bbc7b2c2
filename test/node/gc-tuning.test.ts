import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON_HEAP_GROWING_PERCENT, tuneDaemonGc } from '../../src/node/gc-tuning.js';

describe('daemon GC tuning', () => {
  const saved = process.env.NODE_OPTIONS;
  afterEach(() => {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  });

  it('keeps an explicit --heap-growing-percent from NODE_OPTIONS', () => {
    process.env.NODE_OPTIONS = '--enable-source-maps --heap-growing-percent=50';
    expect(tuneDaemonGc()).toBe(false);
    process.env.NODE_OPTIONS = '--heap_growing_percent=50';
    expect(tuneDaemonGc()).toBe(false);
  });

  it('applies its own growth otherwise', () => {
    process.env.NODE_OPTIONS = '--enable-source-maps';
    expect(DAEMON_HEAP_GROWING_PERCENT).toBeGreaterThan(100);
    expect(tuneDaemonGc()).toBe(true);
  });
});
