/** Audit 5: plugins that throw values which resist conversion, or whose `health` is a throwing getter. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/coreapi/service.js';
import { PanicGuard, toError } from '../../src/runtime/panic-guard.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { createTestHost, type TestHost } from './helpers.js';

/** Values whose conversion to text (or instanceof check) throws. */
function hostileValues(): unknown[] {
  const allTraps = new Proxy(
    {},
    {
      get() {
        throw new Error('trap: get');
      },
      getPrototypeOf() {
        throw new Error('trap: getPrototypeOf');
      },
      ownKeys() {
        throw new Error('trap: ownKeys');
      },
    },
  );
  const noText = {
    toJSON() {
      throw new Error('no json');
    },
    toString() {
      throw new Error('no string');
    },
  };
  const trappedError = new Proxy(new Error('inner'), {
    get() {
      throw new Error('trap: get');
    },
  });
  return [allTraps, noText, trappedError];
}

let t: TestHost | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('hostile throws', () => {
  it('toError turns any thrown value into an ERR_PLUGIN_PANIC error, never throwing itself', () => {
    for (const v of hostileValues()) {
      const e = toError(v);
      expect(e).toBeInstanceOf(Error);
      expect(e).toMatchObject({ code: 'ERR_PLUGIN_PANIC' });
    }
  });

  it('the panic guard recovers such values (it must never throw)', async () => {
    const guard = new PanicGuard();
    for (const v of hostileValues()) {
      await expect(
        guard.run('p', 'op', () => {
          throw v;
        }),
      ).resolves.toBeUndefined();
    }
    expect(guard.count('p')).toBe(3);
  });

  it('a start that throws such a value fails the start with a typed error', async () => {
    t = createTestHost();
    for (const v of hostileValues()) {
      const registry = new ServiceRegistry({ stopBudgetMs: 200 });
      registry.register({
        name: 'hostile',
        order: 1,
        start() {
          throw v;
        },
        stop() {},
      });
      await expect(registry.startAll(t.host)).rejects.toMatchObject({
        code: 'ERR_SERVICE_START',
        cause: expect.objectContaining({ code: 'ERR_PLUGIN_PANIC' }),
      });
      expect(registry.get('hostile')?.lastError?.code).toBe('ERR_PLUGIN_PANIC');
    }
  });

  it('a health getter that throws reads as failed instead of rejecting the whole health report', async () => {
    t = createTestHost();
    const registry = new ServiceRegistry();
    const svc = {
      name: 'bad-health',
      order: 1,
      start() {},
      stop() {},
      get health(): Service['health'] {
        throw new Error('audit: health getter');
      },
    } as Service;
    registry.register(svc);
    registry.register({ name: 'fine', order: 2, start() {}, stop() {}, health: () => ({ status: 'ok' }) });
    await registry.startAll(t.host);
    const h = await registry.health();
    expect(h['bad-health']).toMatchObject({ status: 'failed', message: 'audit: health getter' });
    expect(h.fine).toEqual({ status: 'ok' });
    await registry.stopAll();
  });
});
