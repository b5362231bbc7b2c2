/**
 * Issue 5 (plugin runtime): EventBus publish cost with 0, 1 and 100 subscribers (ns per publish, beside
 * `EventEmitter.emit` with as many listeners), and the round trip of a small request to a process plugin
 * (µs, beside an in-process async call to a plugin).
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeAddr } from '../../src/coreapi/addr.js';
import { PeerNotFoundError } from '../../src/coreapi/errors.js';
import { silentLogger } from '../../src/coreapi/logger.js';
import type { Service } from '../../src/coreapi/service.js';
import { createEventBus } from '../../src/runtime/event-bus.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { ProcessService } from '../../src/runtime/process-service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { figure, percentile, type BenchFigure, type BenchSuite } from '../harness.js';

const BATCH = 500;

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the bench suite');
    dir = up;
  }
  return dir;
}

/** ns per publish on the bus, subscribers drained between batches (outside the timed window). */
async function busNs(subscribers: number, total: number): Promise<number> {
  const bus = createEventBus({ nodeId: 1 });
  const subs = Array.from({ length: subscribers }, () => bus.subscribe('bench.*'));
  const payload = { port: 7, peer: 42 };
  let ns = 0n;
  for (let done = 0; done < total; done += BATCH) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) bus.publish('bench.tick', payload);
    ns += process.hrtime.bigint() - t0;
    for (const s of subs) for (let i = 0; i < BATCH; i++) await s.next();
  }
  for (const s of subs) s.unsubscribe();
  return Number(ns) / total;
}

/** ns per emit on an EventEmitter with `listeners` no-op listeners. */
function emitterNs(listeners: number, total: number): number {
  const ee = new EventEmitter();
  ee.setMaxListeners(0);
  let sink = 0;
  for (let i = 0; i < listeners; i++) ee.on('bench.tick', (p: { port: number }) => (sink += p.port));
  const payload = { port: 7, peer: 42 };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) ee.emit('bench.tick', payload);
  const ns = Number(process.hrtime.bigint() - t0) / total;
  if (sink < 0) console.log(sink);
  return ns;
}

async function eventBusFigures(): Promise<BenchFigure[]> {
  const out: BenchFigure[] = [];
  for (const [subs, total] of [
    [0, 400_000],
    [1, 200_000],
    [100, 20_000],
  ] as const) {
    await busNs(subs, Math.min(total, 20_000)); // warm-up
    emitterNs(subs, Math.min(total, 20_000));
    // Alternate the two, five rounds each, and keep the medians (the machine is shared).
    const values: number[] = [];
    const baselines: number[] = [];
    for (let round = 0; round < 5; round++) {
      values.push(await busNs(subs, total / 5));
      baselines.push(emitterNs(subs, total / 5));
    }
    const value = percentile(values, 50);
    const baseline = percentile(baselines, 50);
    out.push(
      figure({
        name: `eventbus.publish_ns_${subs}_subscribers`,
        value,
        unit: 'ns/publish',
        baselineName: `EventEmitter.emit, ${subs} listeners`,
        baseline,
        lowerIsBetter: true,
        note: 'median of 5 rounds; bounded per-subscriber queues, drained between batches of 500',
      }),
    );
  }
  return out;
}

async function roundTripFigures(): Promise<BenchFigure[]> {
  const child = join(repoRoot(), 'test', 'fixtures', 'plugins', 'ok-process', 'child.mjs');
  const net = createMemoryNetwork();
  const addr = makeAddr(1, 1);
  const events = createEventBus({ nodeId: 1 });
  const host = {
    streams: net.node(addr),
    identity: { nodeId: 1, address: addr, publicKey: Buffer.alloc(32), sign: () => Buffer.alloc(64) },
    resolver: {
      resolve: () => Promise.reject(new PeerNotFoundError()),
      resolveHostname: () => Promise.reject(new PeerNotFoundError()),
      listByNetwork: async () => [],
    },
    events,
    logger: silentLogger,
  };
  const proc = new ProcessService({ name: 'bench-proc', order: 10, command: [child] });
  const inproc: Service & { ping(p: unknown): Promise<unknown> } = {
    name: 'bench-inproc',
    order: 20,
    start: () => {},
    stop: () => {},
    ping: async (payload: unknown) => ({ payload }),
  };
  const registry = new ServiceRegistry({ logger: silentLogger });
  registry.register(proc, { config: { port: 7300, datagramPort: 7301, prefix: 'p:' } });
  registry.register(inproc);
  await registry.startAll(host);
  try {
    const payload = { op: 'get', key: 'k1' };
    const measure = async (call: () => Promise<unknown>, n: number): Promise<number[]> => {
      const samples: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        await call();
        samples.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      return samples;
    };
    await measure(() => proc.ping(payload), 300);
    await measure(() => inproc.ping(payload), 300);
    const p = await measure(() => proc.ping(payload), 3000);
    const q = await measure(() => inproc.ping(payload), 3000);
    const note = 'sequential requests, NDJSON over the child stdin/stdout pipes';
    return [
      figure({
        name: 'process_plugin.roundtrip_us_p50',
        value: percentile(p, 50),
        unit: 'µs',
        baselineName: 'in-process async call, p50',
        baseline: percentile(q, 50),
        lowerIsBetter: true,
        note,
      }),
      figure({
        name: 'process_plugin.roundtrip_us_p99',
        value: percentile(p, 99),
        unit: 'µs',
        baselineName: 'in-process async call, p99',
        baseline: percentile(q, 99),
        lowerIsBetter: true,
        note,
      }),
    ];
  } finally {
    await registry.stopAll().catch(() => undefined);
    await net.close();
    events.close();
  }
}

export const suite: BenchSuite = {
  name: 'runtime',
  issue: 5,
  async run() {
    return [...(await eventBusFigures()), ...(await roundTripFigures())];
  },
};
