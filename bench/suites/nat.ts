/**
 * Issue 7 — NAT traversal: the beacon relay against the direct path, and time to first byte of dials that
 * go direct, need a hole punch, or end on the relay.
 *
 * Processes on loopback: a registry (this process), a beacon (its own process, one core) and two nodes
 * (`nat-worker`), each with its tunnel socket behind a small firewall: `open` (direct path), `stateful`
 * (a NAT-like filter: the direct attempt is dropped, the beacon's punch opens it) or `beacon-only` (no
 * direct path: relay). Every relay figure stands beside the direct figure measured in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startRegistry, type RegistryServer } from '../../src/registry/index.js';
import { figure, percentile, type BenchFigure, type BenchSuite } from '../harness.js';
import { Worker } from '../workers/rpc.js';

const NODE = fileURLToPath(new URL('../workers/nat-worker.js', import.meta.url));
const BEACON = fileURLToPath(new URL('../workers/beacon-forwarder.js', import.meta.url));
const BULK = 32 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** Shorter SYN timers than the reference's 1 s so that relayed dials take ~1.4 s instead of ~7 s. */
const DIAL_TIMERS = { synRtoMs: 200, synRtoMaxMs: 1000 };
const TTFB_SAMPLES = 5;
const ROUNDS = 3;

type Mode = 'open' | 'stateful' | 'beacon-only';

interface Env {
  registry: RegistryServer;
  beacon: ChildProcess;
  beaconAddr: string;
}

async function startBeacon(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [BEACON, 'beacon'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('beacon did not start')), 10_000);
    rl.on('line', (l) => {
      if (l.startsWith('READY')) {
        clearTimeout(timer);
        resolve(Number(l.slice(5).trim()));
      }
    });
  });
  return { child, port };
}

async function env(): Promise<Env> {
  const registry = await startRegistry({
    host: '127.0.0.1',
    port: 0,
    store: null,
    registrationRateLimit: false,
  });
  const b = await startBeacon();
  return { registry, beacon: b.child, beaconAddr: `127.0.0.1:${b.port}` };
}

async function closeEnv(e: Env): Promise<void> {
  e.beacon.stdin?.end();
  if (e.beacon.exitCode === null) {
    await new Promise<void>((resolve) => {
      e.beacon.once('exit', () => resolve());
      e.beacon.kill('SIGTERM');
    });
  }
  await e.registry.close();
}

async function pair(e: Env, mode: Mode): Promise<{ a: Worker; b: Worker; idA: number; idB: number }> {
  const r = e.registry.address as { host: string; port: number };
  const init = { registry: `${r.host}:${r.port}`, beacon: e.beaconAddr, mode, streams: DIAL_TIMERS };
  const a = await Worker.start(NODE);
  const b = await Worker.start(NODE);
  const idA = await a.call<number>('init', init);
  const idB = await b.call<number>('init', init);
  return { a, b, idA, idB };
}

async function stop(...ws: Worker[]): Promise<void> {
  await Promise.all(
    ws.map(async (w) => {
      await w.call('close').catch(() => {});
      await w.stop();
    }),
  );
}

/** One-way bulk MB/s at the receiver (median of `ROUNDS` transfers), plus whether the sender used the relay. */
async function bulk(e: Env, mode: Mode): Promise<{ mbps: number; relay: boolean }> {
  const { a, b, idB } = await pair(e, mode);
  try {
    await b.call('sink', { port: 5001 });
    await a.call('send', { node: idB, port: 5001, bytes: 1024 * 1024, chunk: CHUNK }); // warm-up
    await b.event('sink');
    const rates: number[] = [];
    let relay = false;
    for (let i = 0; i < ROUNDS; i++) {
      const s = await a.call<{ relay: boolean }>('send', {
        node: idB,
        port: 5001,
        bytes: BULK,
        chunk: CHUNK,
      });
      const r = await b.event('sink');
      rates.push((r.bytes as number) / 1e6 / ((r.ms as number) / 1000));
      relay = s.relay;
    }
    return { mbps: percentile(rates, 50), relay };
  } finally {
    await stop(a, b);
  }
}

async function rtt(e: Env, mode: Mode): Promise<{ p50: number; p99: number; relay: boolean }> {
  const { a, b, idB } = await pair(e, mode);
  try {
    await b.call('echo', { port: 7 });
    await a.call('rtt', { node: idB, port: 7, count: 100, size: 64 }); // warm-up
    const r = await a.call<{ samples: number[]; relay: boolean }>('rtt', {
      node: idB,
      port: 7,
      count: 2000,
      size: 64,
    });
    return { p50: percentile(r.samples, 50), p99: percentile(r.samples, 99), relay: r.relay };
  } finally {
    await stop(a, b);
  }
}

/** Median time to first byte of first-contact dials, and the path the last one used. */
async function ttfb(e: Env, mode: Mode): Promise<{ p50: number; relay: boolean; punches: number }> {
  const { a, b, idA, idB } = await pair(e, mode);
  try {
    await b.call('echo', { port: 7 });
    const samples: number[] = [];
    let last = { relay: false, stats: { punchSucceeded: 0 } };
    for (let i = 0; i < TTFB_SAMPLES; i++) {
      await a.call('forget', { peer: idB });
      await b.call('forget', { peer: idA });
      const r = await a.call<{ ms: number; relay: boolean; stats: { punchSucceeded: number } }>('ttfb', {
        node: idB,
        port: 7,
      });
      samples.push(r.ms);
      last = r;
    }
    return { p50: percentile(samples, 50), relay: last.relay, punches: last.stats.punchSucceeded };
  } finally {
    await stop(a, b);
  }
}

export const suite: BenchSuite = {
  name: 'nat',
  issue: 7,
  async run(): Promise<BenchFigure[]> {
    const e = await env();
    try {
      const direct = await bulk(e, 'open');
      const relay = await bulk(e, 'beacon-only');
      const rttDirect = await rtt(e, 'open');
      const rttRelay = await rtt(e, 'beacon-only');
      const tDirect = await ttfb(e, 'open');
      const tPunched = await ttfb(e, 'stateful');
      const tRelay = await ttfb(e, 'beacon-only');
      const path = (r: boolean): string => (r ? 'relay' : 'direct');
      return [
        figure({
          name: 'nat.relay_throughput',
          value: relay.mbps,
          unit: 'MB/s',
          baselineName: 'direct path, same run',
          baseline: direct.mbps,
          target: '>= 0.5x direct',
          minRatio: 0.5,
          note:
            `median of ${ROUNDS} one-way 32 MiB transfers; paths: ${path(relay.relay)} vs ${path(direct.relay)}; ` +
            'beacon in its own process',
        }),
        figure({
          name: 'nat.relay_rtt_p50',
          value: rttRelay.p50,
          unit: 'ms',
          baselineName: 'direct path p50, same run',
          baseline: rttDirect.p50,
          lowerIsBetter: true,
          note:
            `64-byte echo round trips; added latency ${(rttRelay.p50 - rttDirect.p50).toFixed(3)} ms (p50), ` +
            `p99 ${rttRelay.p99.toFixed(3)} vs ${rttDirect.p99.toFixed(3)} ms`,
        }),
        figure({
          name: 'nat.ttfb_direct',
          value: tDirect.p50,
          unit: 'ms',
          baselineName: 'echo round trip on an open stream (p50)',
          baseline: rttDirect.p50,
          lowerIsBetter: true,
          note:
            `p50 of ${TTFB_SAMPLES} first-contact dials (registry lookups, key exchange, handshake, one echo); ` +
            `path ${path(tDirect.relay)}`,
        }),
        figure({
          name: 'nat.ttfb_punched',
          value: tPunched.p50,
          unit: 'ms',
          baselineName: 'direct first-contact dial',
          baseline: tDirect.p50,
          lowerIsBetter: true,
          note:
            `p50 of ${TTFB_SAMPLES} first-contact dials through a port-restricted filter; path ` +
            `${path(tPunched.relay)}; the punch is requested at first contact (reference ensureTunnel)`,
        }),
        figure({
          name: 'nat.ttfb_relayed',
          value: tRelay.p50,
          unit: 'ms',
          baselineName: 'direct first-contact dial',
          baseline: tDirect.p50,
          lowerIsBetter: true,
          note:
            `p50 of ${TTFB_SAMPLES} first-contact dials with no direct path; path ${path(tRelay.relay)}, relay at SYN ` +
            `retry 3 (synRtoMs ${DIAL_TIMERS.synRtoMs}; ~7 s with the reference's 1 s)`,
        }),
      ];
    } finally {
      await closeEnv(e);
    }
  },
};
