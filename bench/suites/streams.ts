/**
 * Issue 3: reliable streams, two processes on loopback, each figure beside a baseline from the same run.
 */
import { fileURLToPath } from 'node:url';
import { UdpRelay } from '../../test/helpers/udp-relay.js';
import { figure, percentile, type BenchFigure, type BenchSuite } from '../harness.js';
import { Worker } from '../workers/rpc.js';

const PILOT = fileURLToPath(new URL('../workers/streams-worker.js', import.meta.url));
const UDX = fileURLToPath(new URL('../workers/udx-worker.js', import.meta.url));
const BULK = 128 * 1024 * 1024;
const CHUNK = 64 * 1024;
const ROUNDS = 3;
const MANY = { synRatePerSource: 1e6, synRateGlobal: 1e6, maxConnsPerPort: 20_000, maxConnsTotal: 40_000 };

type Entry = { nodeId: number; publicKey: string; endpoint: { host: string; port: number } };

async function pilotPair(
  streams: Record<string, unknown> = {},
  gc = false,
  tunnel: Record<string, unknown> = {},
): Promise<[Worker, Worker, Entry, Entry]> {
  const argv = gc ? ['--expose-gc'] : [];
  const a = await Worker.start(PILOT, argv);
  const b = await Worker.start(PILOT, argv);
  const ea = await a.call<Entry>('init', { nodeId: 1, streams, tunnel });
  const eb = await b.call<Entry>('init', { nodeId: 2, streams, tunnel });
  await a.call('addPeer', eb);
  await b.call('addPeer', ea);
  return [a, b, ea, eb];
}

async function stopAll(...ws: Worker[]): Promise<void> {
  await Promise.all(ws.map((w) => w.stop()));
}

/** One side of a throughput comparison: a pair of worker processes that measures one round per call. */
interface Runner {
  /** One timed transfer, in MB/s measured at the receiver. */
  round(): Promise<number>;
  stop(): Promise<void>;
}

/** Pilot bulk transfers (one new stream per round) between two static nodes. */
async function pilotBulk(streams: Record<string, unknown>, bytes: number): Promise<Runner> {
  const [a, b] = await pilotPair(streams);
  await b.call('sink', { port: 5001 });
  const once = async (n: number): Promise<number> => {
    await a.call('send', { node: 2, port: 5001, bytes: n, chunk: CHUNK });
    const r = await b.event('sink');
    return (r.bytes as number) / 1e6 / ((r.ms as number) / 1000);
  };
  await once(1024 * 1024); // keys and path MTU, before any round
  return { round: () => once(bytes), stop: () => stopAll(a, b) };
}

/** udx-native bulk transfers (a new stream pair per round), optionally under secret-stream. */
async function udxBulk(secret: boolean, bytes: number): Promise<Runner> {
  const a = await Worker.start(UDX);
  const b = await Worker.start(UDX);
  const pa = await a.call<number>('bind');
  const pb = await b.call<number>('bind');
  let id = 1;
  return {
    async round() {
      const [mine, theirs] = [id, id + 1];
      id += 2;
      await b.call('sink', { id: theirs, remoteId: mine, port: pa, secret });
      await a.call('send', { id: mine, remoteId: theirs, port: pb, secret, bytes, chunk: CHUNK });
      const r = await b.event('sink');
      return (r.bytes as number) / 1e6 / ((r.ms as number) / 1000);
    },
    stop: () => stopAll(a, b),
  };
}

/** Raw node:dgram blasting `size`-byte datagrams as fast as the sender can; the receiver's rate. */
async function rawBlast(size: number): Promise<Runner> {
  const a = await Worker.start(PILOT);
  const b = await Worker.start(PILOT);
  await a.call('rawBind');
  const pb = await b.call<number>('rawBind');
  await b.call('rawSink');
  return {
    async round() {
      await a.call('rawBlast', { port: pb, count: 200_000, size, rate: 1e9 });
      await new Promise((r) => setTimeout(r, 200));
      const r = await b.call<{ bytes: number; t0: number; t1: number }>('rawReport');
      return r.bytes / 1e6 / ((r.t1 - r.t0) / 1000);
    },
    stop: () => stopAll(a, b),
  };
}

/**
 * Every runner does one untimed round, then `ROUNDS` timed rounds taken in turn, so a slow stretch of this
 * 2-core VM hits all sides alike; returns each runner's rounds (the figures report the medians).
 */
async function alternate(...starts: (() => Promise<Runner>)[]): Promise<number[][]> {
  const runners: Runner[] = [];
  try {
    for (const start of starts) runners.push(await start());
    for (const r of runners) await r.round();
    const out: number[][] = runners.map(() => []);
    for (let i = 0; i < ROUNDS; i++) {
      for (let k = 0; k < runners.length; k++) out[k].push(await runners[k].round());
    }
    return out;
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
  }
}

const rounds = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ');

/**
 * Echo RTT and dial time, each interleaved sample by sample with a raw node:dgram ping-pong between the
 * same two processes (the baseline for each figure comes from its own interleaved series).
 */
async function latency(
  tunnel: Record<string, unknown> = {},
): Promise<{ echo: number[]; raw: number[]; dial: number[]; dialRaw: number[] }> {
  const [a, b] = await pilotPair({}, false, tunnel);
  try {
    await b.call('echo', { port: 7 });
    await a.call('rawBind');
    const pb = await b.call<number>('rawBind');
    await b.call('rawEcho');
    const args = { node: 2, port: 7, rawPort: pb, size: 64 };
    await a.call('echoVsRaw', { ...args, count: 300 }); // warm-up
    const e = await a.call<{ echo: number[]; raw: number[] }>('echoVsRaw', { ...args, count: 3000 });
    const d = await a.call<{ dial: number[]; raw: number[] }>('dialVsRaw', { ...args, count: 500 });
    return { echo: e.echo, raw: e.raw, dial: d.dial, dialRaw: d.raw };
  } finally {
    await stopAll(a, b);
  }
}

async function idle(count: number): Promise<{
  pilot: { bytesPerStream: number; roundTripAllMs: number };
  udx: { bytesPerStream: number; roundTripAllMs: number };
}> {
  const [a, b] = await pilotPair(MANY, true);
  let pilot;
  try {
    await b.call('echo', { port: 7 });
    await a.call('echoRtt', { node: 2, port: 7, count: 10, size: 1 });
    pilot = await a.call('idleOpen', { node: 2, port: 7, count });
  } finally {
    await stopAll(a, b);
  }
  const ua = await Worker.start(UDX, ['--expose-gc']);
  const ub = await Worker.start(UDX, ['--expose-gc']);
  let udx;
  try {
    const pa = await ua.call<number>('bind');
    const pb = await ub.call<number>('bind');
    await ub.call('idleServe', { baseId: 100_000, remoteBase: 1, port: pa, count });
    udx = await ua.call('idleOpen', { baseId: 1, remoteBase: 100_000, port: pb, count });
  } finally {
    await stopAll(ua, ub);
  }
  return { pilot, udx };
}

async function lossyGoodput(capBytesPerSec: number): Promise<number> {
  const [a, b, , eb] = await pilotPair({ pmtuDiscovery: false });
  const relay = await UdpRelay.create(eb.endpoint, {
    up: { drop: 0.02, bandwidth: capBytesPerSec, queueBytes: 256 * 1024 },
    down: { drop: 0.02, bandwidth: capBytesPerSec, queueBytes: 256 * 1024 },
    seed: 7,
  });
  try {
    await a.call('addPeer', { ...eb, endpoint: relay.address });
    await b.call('sink', { port: 5002 });
    await a.call('send', { node: 2, port: 5002, bytes: 10 * 1024 * 1024, chunk: CHUNK });
    const r = await b.event('sink');
    return (r.bytes as number) / ((r.ms as number) / 1000);
  } finally {
    await relay.close();
    await stopAll(a, b);
  }
}

export const suite: BenchSuite = {
  name: 'streams',
  issue: 3,
  async run(): Promise<BenchFigure[]> {
    const out: BenchFigure[] = [];
    const [pilotRuns, secretRuns, udxRuns] = await alternate(
      () => pilotBulk({}, BULK),
      () => udxBulk(true, BULK),
      () => udxBulk(false, BULK),
    );
    const pilotDefault = percentile(pilotRuns, 50);
    const bulkNote = `128 MiB per round; median of ${ROUNDS} alternating rounds after one untimed round each (pilot ${rounds(pilotRuns)}; udx + secret-stream ${rounds(secretRuns)}; raw udx ${rounds(udxRuns)})`;
    out.push(
      figure({
        name: 'streams.bulk_default_MBps',
        value: pilotDefault,
        unit: 'MB/s',
        baselineName: 'udx-native + secret-stream',
        baseline: percentile(secretRuns, 50),
        target: '>= 1.0x udx+secret-stream',
        minRatio: 1.0,
        note: bulkNote,
      }),
      figure({
        name: 'streams.bulk_default_vs_raw_udx',
        value: pilotDefault,
        unit: 'MB/s',
        baselineName: 'raw udx-native',
        baseline: percentile(udxRuns, 50),
      }),
    );
    const [pilot1400, raw1400] = await alternate(
      () => pilotBulk({ mss: 1400 - 70, pmtuDiscovery: false }, 64 * 1024 * 1024),
      () => rawBlast(1400),
    );
    out.push(
      figure({
        name: 'streams.bulk_1400B_datagrams_MBps',
        value: percentile(pilot1400, 50),
        unit: 'MB/s',
        baselineName: 'raw node:dgram blast, 1400 B',
        baseline: percentile(raw1400, 50),
        target: '>= 0.30x raw',
        minRatio: 0.3,
        note: `64 MiB per pilot round, 200,000 datagrams per raw round; median of ${ROUNDS} alternating rounds after one untimed round each (pilot ${rounds(pilot1400)}; raw ${rounds(raw1400)})`,
      }),
    );
    const lat = await latency();
    const rawP50 = percentile(lat.raw, 50);
    out.push(
      figure({
        name: 'streams.echo_rtt_p50_ms',
        value: percentile(lat.echo, 50),
        unit: 'ms',
        baselineName: 'raw node:dgram ping-pong p50 (interleaved)',
        baseline: rawP50,
        target: '<= 1.3x raw',
        maxRatio: 1.3,
      }),
      figure({
        name: 'streams.echo_rtt_p99_ms',
        value: percentile(lat.echo, 99),
        unit: 'ms',
        baselineName: 'raw node:dgram ping-pong p99',
        baseline: percentile(lat.raw, 99),
      }),
      figure({
        name: 'streams.dial_p50_ms',
        value: percentile(lat.dial, 50),
        unit: 'ms',
        baselineName: 'raw node:dgram RTT p50 (interleaved)',
        baseline: percentile(lat.dialRaw, 50),
        target: '<= 3x raw RTT',
        maxRatio: 3,
      }),
    );
    // Diagnostic: the same echo with the tunnel's encryption off (plaintext PILT frames) shows what the
    // per-packet AES-GCM of node:crypto costs on this path.
    const plain = await latency({ encrypt: false });
    out.push(
      figure({
        name: 'streams.echo_rtt_p50_ms_unencrypted',
        value: percentile(plain.echo, 50),
        unit: 'ms (diagnostic: encryption off)',
        baselineName: 'raw node:dgram ping-pong p50 (interleaved)',
        baseline: percentile(plain.raw, 50),
      }),
    );
    const idl = await idle(10_000);
    out.push(
      figure({
        name: 'streams.idle_10k_bytes_per_stream',
        value: idl.pilot.bytesPerStream,
        unit: 'bytes',
        baselineName: 'udx-native per stream',
        baseline: idl.udx.bytesPerStream,
        target: '<= 8192 bytes',
        note: `target met: ${idl.pilot.bytesPerStream <= 8192}`,
      }),
      figure({
        name: 'streams.idle_10k_round_trip_all_ms',
        value: idl.pilot.roundTripAllMs,
        unit: 'ms',
        baselineName: 'udx-native, 10k streams',
        baseline: idl.udx.roundTripAllMs,
        target: '<= 1.0x udx',
        maxRatio: 1.0,
      }),
    );
    const cap = 20 * 1000 * 1000;
    const good = await lossyGoodput(cap);
    out.push(
      figure({
        name: 'streams.goodput_2pct_loss_fraction_of_cap',
        value: good / cap,
        unit: 'fraction of 20 MB/s cap',
        note: `goodput ${(good / 1e6).toFixed(2)} MB/s through the relay at 2% loss each way`,
      }),
    );
    return out;
  },
};
