import { describe, expect, it } from 'vitest';
import { PanicGuard, toError } from '../../src/runtime/panic-guard.js';
import { createEventBus } from '../../src/runtime/event-bus.js';
import { createCapturingLogger } from './helpers.js';

describe('PanicGuard (RecoverPlugin)', () => {
  it('survives a throwing handler: counts, logs, publishes plugin.<name>.panic and calls onPanic', async () => {
    const bus = createEventBus();
    const sub = bus.subscribe('plugin.*');
    const logger = createCapturingLogger();
    const guard = new PanicGuard({ events: bus, logger });
    const seen: Error[] = [];
    const handler = guard.wrap(
      'echo',
      'acceptLoop',
      () => {
        throw new Error('handler exploded');
      },
      (err) => seen.push(err),
    );
    expect(() => handler()).not.toThrow();
    expect(guard.total).toBe(1);
    expect(guard.count('echo')).toBe(1);
    expect(seen.map((e) => e.message)).toEqual(['handler exploded']);
    const ev = await sub.next();
    expect(ev.topic).toBe('plugin.echo.panic');
    expect(ev.payload).toMatchObject({
      plugin: 'echo',
      op: 'acceptLoop',
      panic: 'handler exploded',
      recovered_total: 1,
      plugin_panics: 1,
    });
    const rec = logger.records.find((r) => r.level === 'error');
    expect(rec?.fields).toMatchObject({ plugin: 'echo', op: 'acceptLoop', layer: 'L11' });
    expect(String((rec?.fields.err as { stack: string }).stack)).toContain('handler exploded');
    sub.unsubscribe();
  });

  it('catches rejected promises from wrapped async handlers and from run()', async () => {
    const guard = new PanicGuard();
    const wrapped = guard.wrap('a', 'handler', async () => {
      throw new Error('async boom');
    });
    wrapped();
    await expect(
      guard.run('a', 'task', () => Promise.reject(new Error('task boom'))),
    ).resolves.toBeUndefined();
    await expect(guard.run('a', 'task', () => 42)).resolves.toBe(42);
    await new Promise((r) => setImmediate(r));
    expect(guard.count('a')).toBe(2);
    expect(guard.total).toBe(2);
  });

  it('publishes plugin.<name>.unhealthy exactly once, at the third panic', async () => {
    const bus = createEventBus();
    const sub = bus.subscribe('plugin.bad.unhealthy');
    const unhealthy: string[] = [];
    const guard = new PanicGuard({ events: bus, onUnhealthy: (p) => unhealthy.push(p) });
    for (let i = 0; i < 5; i++) guard.recover('bad', 'loop', new Error(`#${i}`));
    guard.recover('good', 'loop', new Error('x'));
    expect(guard.isHealthy('bad')).toBe(false);
    expect(guard.isHealthy('good')).toBe(true);
    expect(unhealthy).toEqual(['bad']);
    sub.unsubscribe();
    const events = [];
    for await (const e of sub) events.push(e);
    expect(events).toHaveLength(1);
    expect(events[0].payload).toMatchObject({ plugin: 'bad', plugin_panics: 3 });
    guard.reset('bad');
    expect(guard.isHealthy('bad')).toBe(true);
    expect(guard.lifetimeCount('bad')).toBe(5);
    expect(guard.total).toBe(6);
  });

  it('normalises non-Error values and survives throwing callbacks and buses', () => {
    const guard = new PanicGuard({
      events: {
        publish: () => {
          throw new Error('bus down');
        },
        subscribe: () => {
          throw new Error('no');
        },
      },
      onPanic: () => {
        throw new Error('callback down');
      },
    });
    const err = guard.recover('p', 'op', { weird: true });
    expect(err).toMatchObject({ code: 'ERR_PLUGIN_PANIC' });
    expect(err.message).toContain('weird');
    expect(toError('text')).toMatchObject({ code: 'ERR_PLUGIN_PANIC' });
    expect(guard.total).toBe(1);
  });
});
