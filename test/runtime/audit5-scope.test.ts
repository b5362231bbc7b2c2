/** Audit 5: subscriptions a plugin ends through their AbortSignal are released from its scope. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/coreapi/service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { createTestHost, type TestHost } from './helpers.js';

let t: TestHost | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('plugin scope audit', () => {
  it('a subscription ended by its signal is no longer tracked (a per-request subscriber does not leak)', async () => {
    t = createTestHost();
    const registry = new ServiceRegistry();
    let deps: Deps | undefined;
    registry.register({
      name: 'signal-subscriber',
      order: 1,
      start(d) {
        deps = d;
      },
      stop() {},
    });
    await registry.startAll(t.host);
    const baseline = t.bus.stats().subscribers;
    for (let i = 0; i < 500; i++) {
      const ac = new AbortController();
      deps?.events.subscribe('audit5.*', { signal: ac.signal });
      ac.abort();
    }
    // Already aborted when subscribing: never tracked at all.
    deps?.events.subscribe('audit5.*', { signal: AbortSignal.abort() });
    expect(t.bus.stats().subscribers).toBe(baseline);
    expect(registry.get('signal-subscriber')?.resources.subscriptions).toBe(0);
    // A live one is still tracked, and still released by stop.
    const live = new AbortController();
    deps?.events.subscribe('audit5.*', { signal: live.signal });
    expect(registry.get('signal-subscriber')?.resources.subscriptions).toBe(1);
    await registry.stopAll();
    expect(t.bus.stats().subscribers).toBe(baseline);
  });
});
