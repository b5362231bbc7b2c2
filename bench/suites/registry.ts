/**
 * Issue 4: the directory registry on one core (a worker process), loaded from this process over loopback TCP
 * with pipelined connections. Baselines from the same run:
 * - signed heartbeats/s and resolves/s beside raw Ed25519 verifications/s of node:crypto, measured in the
 *   registry's worker process just before;
 * - unsigned lookups/s beside a raw length-prefixed TCP server answering canned frames under the same load;
 * - memory per registered node at 100,000 nodes beside the same snapshot parsed into plain objects;
 * - snapshot write time at 100,000 nodes beside a naive synchronous JSON.stringify + write + fsync, with the
 *   longest event-loop stall during our (asynchronous) save beside the naive save's stall.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { ed25519FromSeed, ed25519Sign, type Ed25519KeyPair } from '../../src/transport/keys.js';
import { figure, type BenchFigure, type BenchSuite } from '../harness.js';
import { runLoad, type LoadResult } from '../workers/registry-load.js';
import { Worker } from '../workers/rpc.js';

const SERVER = fileURLToPath(new URL('../workers/registry-server.js', import.meta.url));
const NODES = 100_000;
const SIGNED_NODES = 2000;
const WINDOW_MS = 2500;
const WARMUP_MS = 500;
const LOAD = { connections: 8, window: 64 };

const frame = (o: Record<string, unknown>): Buffer => encodeFrame(JSON.stringify(o));

function check(r: LoadResult, what: string): LoadResult {
  if (r.errors > 0) throw new Error(`${what}: ${r.errors} error answers, e.g. ${r.firstError}`);
  return r;
}

interface Signed {
  keys: Ed25519KeyPair[];
  ids: number[];
}

/** Register `count` real identities (public, so resolves are allowed) and return them with their node IDs. */
async function registerSigned(port: number, count: number): Promise<Signed> {
  const keys = Array.from({ length: count }, () => ed25519FromSeed(randomBytes(32)));
  const ids: number[] = [];
  // Registration answers come back in order per connection; use one connection to map keys to IDs.
  const regFrames = keys.map((k) => frame({ type: 'register', public_key: k.publicKey.toString('base64') }));
  await runLoadCollect(port, regFrames, (payload) =>
    ids.push((JSON.parse(payload) as { node_id: number }).node_id),
  );
  const vis = keys.map((k, i) =>
    frame({
      type: 'set_visibility',
      node_id: ids[i],
      public: true,
      signature: ed25519Sign(k, Buffer.from(`set_visibility:${ids[i]}`)).toString('base64'),
    }),
  );
  check(
    await runLoad({
      port,
      frames: vis,
      once: true,
      connections: 1,
      window: 64,
      expect: '{"type":"set_visibility_ok"',
    }),
    'visibility',
  );
  return { keys, ids };
}

/** One connection, frames once, callback per answer text. */
async function runLoadCollect(
  port: number,
  frames: Buffer[],
  onAnswer: (text: string) => void,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port }, () => sock.write(Buffer.concat(frames)));
    const d = new FrameDecoder(1 << 20);
    let n = 0;
    sock.on('data', (c: Buffer) =>
      d.push(c, (p) => {
        onAnswer(p.toString('utf8'));
        if (++n === frames.length) {
          sock.destroy();
          resolve();
        }
      }),
    );
    sock.on('error', reject);
  });
}

function heartbeatFrames(s: Signed): Buffer[] {
  return s.keys.map((k, i) =>
    frame({
      type: 'heartbeat',
      node_id: s.ids[i],
      signature: ed25519Sign(k, Buffer.from(`heartbeat:${s.ids[i]}`)).toString('base64'),
    }),
  );
}

function resolveFrames(s: Signed): Buffer[] {
  return s.keys.map((k, i) => {
    const target = s.ids[(i * 7 + 1) % s.ids.length];
    return frame({
      type: 'resolve',
      node_id: target,
      requester_id: s.ids[i],
      signature: ed25519Sign(k, Buffer.from(`resolve:${s.ids[i]}:${target}`)).toString('base64'),
    });
  });
}

/** Requests/s under load, and the server's CPU microseconds per request (immune to other load on the machine). */
async function measure(
  w: Worker,
  port: number,
  frames: Buffer[],
  expect: string,
  what: string,
): Promise<{ rate: number; cpuUs: number }> {
  const c0 = await w.call<number>('cpu');
  const r = check(
    await runLoad({ port, frames, ...LOAD, durationMs: WINDOW_MS, warmupMs: WARMUP_MS, expect }),
    what,
  );
  const c1 = await w.call<number>('cpu');
  return { rate: r.perSecond, cpuUs: (c1 - c0) / r.total };
}

async function run(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'pilot-bench-registry-'));
  try {
    const lookupFrames = Array.from({ length: 4096 }, () =>
      frame({ type: 'lookup', node_id: 1 + Math.floor(Math.random() * NODES) }),
    );

    // Baseline server: same client load, canned answers.
    const echo = await Worker.start(SERVER);
    let echoRate: number;
    try {
      const { port } = await echo.call<{ port: number }>('start', { mode: 'echo' });
      echoRate = (await measure(echo, port, lookupFrames, '{"type":"lookup_ok"', 'raw server')).rate;
    } finally {
      await echo.stop();
    }

    // The registry, warm signature cache (the default).
    const w = await Worker.start(SERVER, ['--expose-gc']);
    try {
      const store = join(dir, 'registry.json');
      const { port } = await w.call<{ port: number }>('start', { mode: 'registry', store });
      const m0 = await w.call<{ heap: number; rss: number }>('mem');
      const regFrames = Array.from({ length: NODES }, (_, i) =>
        frame({
          type: 'register',
          public_key: randomBytes(32).toString('base64'),
          listen_addr: `0.0.0.0:${4000 + (i % 50_000)}`,
          hostname: `n${i}`,
        }),
      );
      const reg = check(
        await runLoad({ port, frames: regFrames, once: true, ...LOAD, expect: '{"type":"register_ok"' }),
        'register',
      );
      const m1 = await w.call<{ heap: number; rss: number }>('mem');
      const perNode = (m1.heap - m0.heap) / NODES;
      const snap = await w.call<{ ms: number; maxStallMs: number }>('snapshot');
      const naive = await w.call<{ ms: number; bytes: number }>('naiveSnapshot', {
        path: join(dir, 'naive.json'),
      });
      const naiveMem = await w.call<{ heap: number }>('naiveMemory', { path: store });

      const lookup = await measure(w, port, lookupFrames, '{"type":"lookup_ok"', 'lookup');
      const lookups = lookup.rate;
      const signed = await registerSigned(port, SIGNED_NODES);
      const rawVerify = await w.call<number>('rawVerify', {});
      const hbm = await measure(w, port, heartbeatFrames(signed), '{"type":"heartbeat_ok"', 'heartbeat');
      const rsm = await measure(w, port, resolveFrames(signed), '{"type":"resolve_ok"', 'resolve');
      const hb = hbm.rate;
      const rs = rsm.rate;
      const stats = await w.call<{ signatureVerifications: number; signatureCacheHits: number }>('stats');

      figures.push(
        withTarget(
          figure({
            name: 'registry.signed_heartbeats_per_s',
            value: hb,
            unit: 'req/s',
            baselineName: 'raw Ed25519 verify/s (node:crypto, 1 core)',
            baseline: rawVerify,
            target: '>= 5,000/s',
            note: `${SIGNED_NODES} nodes cycling; deterministic signatures verified once each (${stats.signatureVerifications} verifications, ${stats.signatureCacheHits} cache hits); server CPU ${hbm.cpuUs.toFixed(1)} µs/request`,
          }),
          hb >= 5000,
        ),
        withTarget(
          figure({
            name: 'registry.signed_resolves_per_s',
            value: rs,
            unit: 'req/s',
            baselineName: 'raw Ed25519 verify/s (node:crypto, 1 core)',
            baseline: rawVerify,
            target: '>= 5,000/s',
            note: `server CPU ${rsm.cpuUs.toFixed(1)} µs/request`,
          }),
          rs >= 5000,
        ),
        withTarget(
          figure({
            name: 'registry.unsigned_lookups_per_s',
            value: lookups,
            unit: 'req/s',
            baselineName: 'raw length-prefixed TCP server, canned answers',
            baseline: echoRate,
            target: '>= 30,000/s',
            note: `at ${NODES.toLocaleString('en-US')} registered nodes; server CPU ${lookup.cpuUs.toFixed(1)} µs/request`,
          }),
          lookups >= 30_000,
        ),
        withTarget(
          figure({
            name: 'registry.memory_per_node',
            value: perNode,
            unit: 'bytes',
            baselineName: 'same snapshot parsed into plain objects',
            baseline: naiveMem.heap / NODES,
            lowerIsBetter: true,
            target: '<= 1,024 B',
            note: `heap+external after GC at ${NODES.toLocaleString('en-US')} nodes (each with hostname and endpoint); rss delta ${Math.round((m1.rss - m0.rss) / NODES)} B/node`,
          }),
          perNode <= 1024,
        ),
        withTarget(
          figure({
            name: 'registry.snapshot_write_ms',
            value: snap.ms,
            unit: 'ms',
            baselineName: 'naive sync stringify+write+fsync',
            baseline: naive.ms,
            lowerIsBetter: true,
            target: '<= 1,000 ms',
            note: `${NODES.toLocaleString('en-US')} nodes, ${(naive.bytes / 1e6).toFixed(1)} MB`,
          }),
          snap.ms <= 1000,
        ),
        figure({
          name: 'registry.snapshot_max_stall_ms',
          value: snap.maxStallMs,
          unit: 'ms',
          baselineName: 'naive sync save (whole save blocks)',
          baseline: naive.ms,
          lowerIsBetter: true,
          note: 'longest event-loop delay while our snapshot is written (requests keep being served)',
        }),
        figure({
          name: 'registry.registrations_per_s',
          value: reg.perSecond,
          unit: 'req/s',
          baselineName: 'raw length-prefixed TCP server, canned answers',
          baseline: echoRate,
          note: 'rate limit disabled',
        }),
      );
    } finally {
      await w.stop();
    }

    // The registry verifying every signature (cache disabled): the cost of cryptography alone.
    const cold = await Worker.start(SERVER);
    try {
      const { port } = await cold.call<{ port: number }>('start', { mode: 'registry', verifyCacheSize: 0 });
      const signed = await registerSigned(port, SIGNED_NODES);
      const rawVerify = await cold.call<number>('rawVerify', {});
      const hbm = await measure(
        cold,
        port,
        heartbeatFrames(signed),
        '{"type":"heartbeat_ok"',
        'cold heartbeat',
      );
      const hb = hbm.rate;
      figures.push(
        figure({
          name: 'registry.signed_heartbeats_uncached_per_s',
          value: hb,
          unit: 'req/s',
          baselineName: 'raw Ed25519 verify/s (node:crypto, 1 core)',
          baseline: rawVerify,
          note: `verification cache disabled: every request pays one Ed25519 verification (${(1e6 / rawVerify).toFixed(0)} µs alone); server CPU ${hbm.cpuUs.toFixed(1)} µs/request`,
        }),
      );
    } finally {
      await cold.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}

function withTarget(f: BenchFigure, met: boolean): BenchFigure {
  return { ...f, met };
}

export const suite: BenchSuite = { name: 'registry', issue: 4, run };
