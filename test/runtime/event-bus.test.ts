import { describe, expect, it } from 'vitest';
import { topicMatches } from '../../src/coreapi/events.js';
import { createEventBus } from '../../src/runtime/event-bus.js';
import { runEventBusSuite } from '../compliance/event-bus-suite.js';

runEventBusSuite('LocalEventBus', () => {
  const bus = createEventBus({ nodeId: 9 });
  return { bus, close: () => bus.close() };
});

describe('LocalEventBus specifics', () => {
  it('topicMatches follows the reference rules', () => {
    expect(topicMatches('*', 'a.b')).toBe(true);
    expect(topicMatches('', 'a.b')).toBe(true);
    expect(topicMatches('tunnel.*', 'tunnel.a.b')).toBe(true);
    expect(topicMatches('tunnel.*', 'tunnel')).toBe(false);
    expect(topicMatches('tunnel.*', 'security.nonce_replay')).toBe(false);
    expect(topicMatches('conn.fin', 'conn.finx')).toBe(false);
  });

  it('stamps the current node ID, and survives a throwing node-ID getter', async () => {
    let nodeId = 0;
    let broken = false;
    const bus = createEventBus({
      nodeId: () => {
        if (broken) throw new Error('boom');
        return nodeId;
      },
    });
    const s = bus.subscribe('*');
    nodeId = 77;
    bus.publish('a.b', { x: 1 });
    broken = true;
    expect(() => bus.publish('a.c')).not.toThrow();
    expect((await s.next()).nodeId).toBe(77);
    const e = await s.next();
    expect(e.nodeId).toBe(0);
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({ topic: 'a.c', nodeId: 0, payload: {} });
    s.unsubscribe();
  });

  it('counts published, delivered and dropped events and live subscribers', () => {
    const bus = createEventBus({ queueSize: 2 });
    const a = bus.subscribe('*');
    bus.subscribe('x.*');
    for (let i = 0; i < 5; i++) bus.publish('x.y');
    bus.publish('other');
    expect(bus.stats()).toEqual({ published: 6, delivered: 4, dropped: 7, subscribers: 2 });
    a.unsubscribe();
    bus.close();
    expect(bus.stats().subscribers).toBe(0);
    expect(() => bus.subscribe('*', { queueSize: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG' }),
    );
  });
});
