/**
 * The EventBus compliance suite: any implementation of the coreapi `EventBus` (the daemon's bus, a bus
 * proxied over IPC or to a child process) runs it unchanged:
 *
 *   runEventBusSuite('local', () => createEventBus());
 *
 * `factory` returns a fresh bus (and optionally a `close`). No sleeps: events are awaited.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EventBus, PilotEvent } from '../../src/coreapi/events.js';

export type EventBusFactory = () => EventBus | { bus: EventBus; close(): Promise<void> | void };

async function collect(sub: AsyncIterable<PilotEvent>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of sub) out.push(e.topic);
  return out;
}

export function runEventBusSuite(name: string, factory: EventBusFactory): void {
  describe(`EventBus compliance: ${name}`, () => {
    let closeFn: (() => Promise<void> | void) | undefined;
    function make(): EventBus {
      const r = factory();
      if ('bus' in r) {
        closeFn = () => r.close();
        return r.bus;
      }
      return r;
    }
    afterEach(async () => {
      await closeFn?.();
      closeFn = undefined;
    });

    it('delivers by pattern: *, prefix.* (any depth) and exact', async () => {
      const bus = make();
      const all = bus.subscribe('*');
      const tunnel = bus.subscribe('tunnel.*');
      const exact = bus.subscribe('conn.fin');
      bus.publish('tunnel.established', { peer: 5 });
      bus.publish('tunnel.relay.activated');
      bus.publish('security.nonce_replay');
      bus.publish('conn.fin', { port: 7 });
      bus.publish('conn.finished');
      const e = await tunnel.next();
      expect(e).toMatchObject({ topic: 'tunnel.established', payload: { peer: 5 } });
      expect(typeof e.nodeId).toBe('number');
      expect(e.time).toBeInstanceOf(Date);
      for (const s of [all, tunnel, exact]) s.unsubscribe();
      expect(await collect(all)).toEqual([
        'tunnel.established',
        'tunnel.relay.activated',
        'security.nonce_replay',
        'conn.fin',
        'conn.finished',
      ]);
      expect(await collect(tunnel)).toEqual(['tunnel.relay.activated']);
      expect(await collect(exact)).toEqual(['conn.fin']);
    });

    it('publish never throws, with or without subscribers', () => {
      const bus = make();
      expect(() => bus.publish('nobody.listens', { a: 1 })).not.toThrow();
      const s = bus.subscribe('*', { queueSize: 1 });
      expect(() => {
        for (let i = 0; i < 10; i++) bus.publish('x.y');
      }).not.toThrow();
      s.unsubscribe();
    });

    it('unsubscribe ends iteration, stops delivery and is idempotent', async () => {
      const bus = make();
      const s = bus.subscribe('a.*');
      const it = collect(s);
      bus.publish('a.one');
      s.unsubscribe();
      s.unsubscribe();
      bus.publish('a.two');
      expect(await it).toEqual(['a.one']);
      await expect(s.next()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    });

    it('unsubscribes when the subscribe signal aborts; next() honours its own signal', async () => {
      const bus = make();
      const ac = new AbortController();
      const s = bus.subscribe('*', { signal: ac.signal });
      const ac2 = new AbortController();
      const pending = s.next({ signal: ac2.signal });
      ac2.abort();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_ABORTED' });
      ac.abort();
      await expect(collect(s)).resolves.toEqual([]);
    });

    it('bounds each queue and counts drops per subscriber without affecting the others', async () => {
      const bus = make();
      const small = bus.subscribe('*', { queueSize: 4 });
      const big = bus.subscribe('*', { queueSize: 100 });
      for (let i = 0; i < 10; i++) bus.publish(`t.${i}`);
      expect(small.dropped).toBe(6);
      expect(big.dropped).toBe(0);
      small.unsubscribe();
      big.unsubscribe();
      expect(await collect(small)).toHaveLength(4);
      expect(await collect(big)).toHaveLength(10);
    });

    it('a subscriber that never reads does not hold back another one', async () => {
      const bus = make();
      const stuck = bus.subscribe('*', { queueSize: 2 });
      const live = bus.subscribe('*');
      const got: unknown[] = [];
      const reader = (async () => {
        for await (const e of live) {
          got.push(e.payload.i);
          if (got.length === 500) live.unsubscribe();
        }
      })();
      for (let i = 0; i < 500; i++) bus.publish('load.tick', { i });
      await reader;
      expect(got).toHaveLength(500);
      expect(got[499]).toBe(499);
      expect(stuck.dropped).toBe(498);
      stuck.unsubscribe();
    });
  });
}
