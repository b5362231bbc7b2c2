/** Audit: an async iteration over a subscription that ends early releases the subscription. */
import { describe, expect, it } from 'vitest';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { createEventBus } from '../../src/runtime/event-bus.js';
import { createTestHost } from './helpers.js';

describe('EventBus audit: iterator cleanup', () => {
  it('break out of for-await unsubscribes: no more queueing, the subscriber count drops', async () => {
    const bus = createEventBus();
    const s = bus.subscribe('a.*');
    bus.publish('a.one');
    bus.publish('a.two');
    const seen: string[] = [];
    for await (const e of s) {
      seen.push(e.topic);
      break;
    }
    expect(seen).toEqual(['a.one']);
    expect(bus.stats().subscribers).toBe(0);
    for (let i = 0; i < 2000; i++) bus.publish('a.more');
    expect(s.dropped).toBe(0);
    // Events queued before the break are still there (unsubscribe keeps them), then the queue is closed.
    expect((await s.next()).topic).toBe('a.two');
    await expect(s.next()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('a return() while next() waits ends the pending next() and unsubscribes', async () => {
    const bus = createEventBus();
    const s = bus.subscribe('*');
    const it = s[Symbol.asyncIterator]();
    const pending = it.next();
    await expect(it.return?.()).resolves.toMatchObject({ done: true });
    await expect(pending).resolves.toMatchObject({ done: true });
    expect(bus.stats().subscribers).toBe(0);
  }, 2000);

  it('a plugin that breaks out of its subscription loop no longer holds the subscription', async () => {
    const t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger });
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    registry.register({
      name: 'breaker',
      order: 1,
      start(deps) {
        const sub = deps.events.subscribe('audit.tick');
        void deps.tasks.run('loop', async () => {
          for await (const e of sub) if (e.payload.last === true) break;
          done();
        });
      },
      stop() {},
    });
    await registry.startAll(t.host);
    expect(registry.get('breaker')?.resources.subscriptions).toBe(1);
    t.bus.publish('audit.tick', { last: true });
    await finished;
    expect(registry.get('breaker')?.resources.subscriptions).toBe(0);
    expect(t.bus.stats().subscribers).toBe(0);
    await registry.stopAll();
    await t.close();
  });
});
