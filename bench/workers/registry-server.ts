/**
 * Benchmark worker for the registry suite (one process = one core): a pilot registry, or the baseline raw
 * length-prefixed TCP server that answers every frame with a canned answer of lookup size without parsing it.
 * Also measures memory and snapshot writes in-process. Start with `--expose-gc`.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { startRegistry, type RegistryServer } from '../../src/registry/index.js';
import { snapshotData } from '../../src/registry/state-codec.js';
import { serve } from './rpc.js';

let registry: RegistryServer | null = null;
let echo: Server | null = null;
let held: unknown = null;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function mem(): { heap: number; rss: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

const CANNED = JSON.stringify({
  type: 'lookup_ok',
  node_id: 12345,
  address: '0:0000.0000.3039',
  networks: [0],
  public_key: Buffer.alloc(32, 7).toString('base64'),
  public: false,
  polo_score: 0,
  hostname: 'n12345',
});

function startEcho(): Promise<number> {
  const answer = encodeFrame(CANNED);
  echo = createServer((sock) => {
    sock.setNoDelay(true);
    const decoder = new FrameDecoder(1 << 20);
    const onFrame = (): void => {
      sock.write(answer);
    };
    sock.on('data', (chunk: Buffer) => {
      sock.cork();
      decoder.push(chunk, onFrame);
      sock.uncork();
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve) =>
    echo?.listen(0, '127.0.0.1', () => resolve((echo?.address() as { port: number }).port)),
  );
}

serve({
  async start(a: { mode: 'registry' | 'echo'; store?: string; verifyCacheSize?: number }) {
    if (a.mode === 'echo') return { port: await startEcho() };
    registry = await startRegistry({
      host: '127.0.0.1',
      port: 0,
      store: a.store ?? null,
      saveDebounceMs: 1e9,
      registrationRateLimit: false,
      verifyCacheSize: a.verifyCacheSize,
    });
    return { port: registry.address?.port };
  },
  mem,
  /** CPU time used by this process so far, in microseconds. */
  cpu() {
    const c = process.cpuUsage();
    return c.user + c.system;
  },
  /** Baseline: raw Ed25519 verifications per second in this (one-core) process. */
  rawVerify(a: { ms?: number }) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const msg = Buffer.from('heartbeat:12345');
    const sig = sign(null, msg, privateKey);
    const ms = a.ms ?? 1000;
    let n = 0;
    const t = performance.now();
    while (performance.now() - t < ms) {
      for (let i = 0; i < 50; i++) verify(null, msg, publicKey, sig);
      n += 50;
    }
    return n / ((performance.now() - t) / 1000);
  },
  stats() {
    return registry?.stats();
  },
  /** The registry's own asynchronous snapshot: duration, bytes and the longest event-loop stall during it. */
  async snapshot() {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const t = performance.now();
    registry?.state.changes.markDirty();
    await registry?.flush();
    const ms = performance.now() - t;
    h.disable();
    return { ms, maxStallMs: h.max / 1e6, saves: registry?.stats().saves };
  },
  /** Baseline: the naive snapshot (build the object, JSON.stringify, write, fsync) done synchronously. */
  naiveSnapshot(a: { path: string }) {
    const t = performance.now();
    const text = JSON.stringify(snapshotData((registry as RegistryServer).state));
    const fd = openSync(a.path, 'w');
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    return { ms: performance.now() - t, bytes: Buffer.byteLength(text) };
  },
  /** Baseline memory: the snapshot file parsed into plain objects (the naive in-memory form). */
  naiveMemory(a: { path: string }) {
    const before = mem();
    held = JSON.parse(readFileSync(a.path, 'utf8')) as unknown;
    const after = mem();
    return { heap: after.heap - before.heap, rss: after.rss - before.rss, held: held !== null };
  },
  async stop() {
    await registry?.close();
    registry = null;
    await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
    echo = null;
  },
});
