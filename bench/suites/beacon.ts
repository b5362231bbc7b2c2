/**
 * Issue 7 — beacon relay throughput on one core.
 *
 * Three processes on loopback: a sender blasting datagrams, the forwarder under test (one Node process = one
 * core), and a receiver (this process) counting what arrives in a fixed window. The forwarder is either the
 * pilot beacon (Relay → RelayDeliver, with the sender check and node-table lookup) or, as the baseline in the
 * same run, a trivial node:dgram forwarder that re-sends every datagram unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { encodeDiscover } from '../../src/beacon/index.js';
import { figure, type BenchFigure, type BenchSuite } from '../harness.js';

const WARMUP_MS = 500;
const WINDOW_MS = 2500;

function worker(name: string): string {
  return fileURLToPath(new URL(`../workers/${name}.js`, import.meta.url));
}

function start(file: string, args: string[]): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, [worker(file), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return { child, lines: rl[Symbol.asyncIterator]() };
}

async function expectLine(lines: AsyncIterator<string>, prefix: string): Promise<string> {
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`worker did not print ${prefix}`)), 10_000).unref(),
  );
  for (;;) {
    const r = await Promise.race([lines.next(), timer]);
    if (r.done) throw new Error(`worker exited before ${prefix}`);
    if (r.value.startsWith(prefix)) return r.value.slice(prefix.length).trim();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function bindReceiver(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  s.setRecvBufferSize(4 * 1024 * 1024);
  return s;
}

/** Delivered packets/s through the forwarder in `mode`, plus the sender's offered rate. */
async function measure(
  mode: 'beacon' | 'raw',
  frameBytes: number,
): Promise<{ pps: number; offered: number }> {
  const rx = await bindReceiver();
  const fwd = start('beacon-forwarder', mode === 'raw' ? ['raw', String(rx.address().port)] : ['beacon']);
  let sender: ReturnType<typeof start> | null = null;
  try {
    const fwdPort = Number(await expectLine(fwd.lines, 'READY'));
    if (mode === 'beacon') {
      // The receiver is node 2 at the beacon.
      await new Promise<void>((resolve) => {
        const retry = setInterval(() => rx.send(encodeDiscover(2), fwdPort, '127.0.0.1'), 100);
        rx.once('message', () => {
          clearInterval(retry);
          resolve();
        });
        rx.send(encodeDiscover(2), fwdPort, '127.0.0.1');
      });
    }
    let count = 0;
    rx.on('message', () => {
      count++;
    });
    const duration = WARMUP_MS + WINDOW_MS + 300;
    sender = start('beacon-sender', [mode, String(fwdPort), String(duration), String(frameBytes)]);
    await expectLine(sender.lines, 'STARTED');
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const c0 = count;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const pps = ((count - c0) * 1000) / (performance.now() - t0);
    const sent = Number(await expectLine(sender.lines, 'SENT'));
    return { pps, offered: (sent * 1000) / duration };
  } finally {
    if (sender !== null) await stopChild(sender.child);
    fwd.child.stdin?.end();
    await stopChild(fwd.child);
    await new Promise<void>((resolve) => rx.close(() => resolve()));
  }
}

/** Alternating rounds per figure; the median of each side is reported (one round swings ±15% on 2 cores). */
const ROUNDS = 3;

function medianOf<T extends { pps: number }>(xs: T[]): T {
  return [...xs].sort((a, b) => a.pps - b.pps)[xs.length >> 1];
}

async function pair(frameBytes: number, name: string): Promise<BenchFigure> {
  const raws: { pps: number; offered: number }[] = [];
  const relays: { pps: number; offered: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    raws.push(await measure('raw', frameBytes));
    relays.push(await measure('beacon', frameBytes));
  }
  const raw = medianOf(raws);
  const relay = medianOf(relays);
  return figure({
    name,
    value: relay.pps,
    unit: 'packets/s',
    baselineName: 'raw node:dgram forwarder',
    baseline: raw.pps,
    target: '>= 0.8x raw forwarder',
    minRatio: 0.8,
    note:
      `${frameBytes}-byte inner frames; median of ${ROUNDS} alternating rounds ` +
      `(beacon ${relays.map((r) => Math.round(r.pps)).join(', ')}; raw ${raws.map((r) => Math.round(r.pps)).join(', ')}); ` +
      `offered ${Math.round(relay.offered)} pkt/s to the beacon, ${Math.round(raw.offered)} pkt/s to the raw forwarder`,
  });
}

export const suite: BenchSuite = {
  name: 'beacon',
  issue: 7,
  async run(): Promise<BenchFigure[]> {
    return [await pair(1200, 'beacon.relay_pps_1200b'), await pair(64, 'beacon.relay_pps_64b')];
  },
};
