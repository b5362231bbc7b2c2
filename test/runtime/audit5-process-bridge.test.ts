/** Audit 5: notifications of a process plugin that grow the daemon's memory or break the EventBus contract. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PilotEvent } from '../../src/coreapi/events.js';
import { ProcessService } from '../../src/runtime/process-service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { createTestHost, nextEvent, type TestHost } from './helpers.js';
import { ndjsonChild } from './ndjson-child.js';

/** A raw child: on start it sends `NOTIFY` (a JS expression giving notification lines), then `audit5.done`. */
function child(notify: string): string {
  return ndjsonChild(`if (m.method === 'start') {
      send({ id: m.id, result: {} });
      process.stdout.write((${notify}).map((x) => JSON.stringify(x) + '\\n').join(''));
      send({ method: 'events.publish', params: { topic: 'audit5.done', payload: {} } });
    } else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });`);
}

let t: TestHost | undefined;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
  await t?.close();
  t = undefined;
});

async function run(source: string, before?: (t: TestHost) => void): Promise<ProcessService> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-audit5-br-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'child.mjs'), source);
  t = createTestHost();
  before?.(t);
  const svc = new ProcessService({ name: 'audit5-bridge', order: 100, command: ['child.mjs'], cwd: dir });
  const registry = new ServiceRegistry({ logger: t.logger, stopBudgetMs: 2000 });
  registry.register(svc);
  cleanups.push(() => registry.stopAll());
  const done = nextEvent(t.bus, 'audit5.done');
  await registry.startAll(t.host);
  await done;
  return svc;
}

describe('process bridge audit', () => {
  it('stream.pause for streams that do not exist is not remembered (a flood cannot grow the daemon)', async () => {
    const n = 20_000;
    const svc = await run(
      child(
        `Array.from({ length: ${n} }, (_, i) => ({ method: 'stream.pause', params: { stream: 1000 + i } }))`,
      ),
    );
    expect(svc.bridgeStats).not.toBeNull();
    expect(svc.bridgeStats?.pausedStreams).toBe(0);
  });

  it('events.publish with a payload that is not an object is not published', async () => {
    const got: PilotEvent[] = [];
    await run(
      child(
        `[5, 'text', [1, 2], true, null, undefined, { ok: 1 }].map((payload) => ({ method: 'events.publish', params: { topic: 'audit5.payload', payload } }))`,
      ),
      (host) => {
        const sub = host.bus.subscribe('audit5.payload');
        cleanups.push(() => sub.unsubscribe());
        void (async () => {
          for await (const e of sub) got.push(e);
        })();
      },
    );
    await new Promise((r) => setImmediate(r));
    // null and a missing payload are the empty payload; the object is kept; the rest are refused.
    expect(got.map((e) => e.payload)).toEqual([{}, {}, { ok: 1 }]);
    for (const e of got) expect(typeof e.payload === 'object' && !Array.isArray(e.payload)).toBe(true);
    expect(t?.logger.records.some((r) => r.msg === 'malformed plugin message')).toBe(true);
  });
});
