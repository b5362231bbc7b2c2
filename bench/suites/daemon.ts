/**
 * Issue 6: the daemon and IPC path. `pilot bench` and `pilot ping` run as real CLI processes against two
 * `pilot daemon` processes, beside the same operations done in-process on the streams API in the same run;
 * daemon memory at idle and with 1,000 open streams.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect } from '../../src/ipc/index.js';
import { makeAddr } from '../../src/coreapi/addr.js';
import { startRegistry } from '../../src/registry/index.js';
import { figure, percentile, type BenchFigure, type BenchSuite } from '../harness.js';
import { Worker } from '../workers/rpc.js';

const PILOT = fileURLToPath(new URL('../../cmd/pilot.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../workers/streams-worker.js', import.meta.url));
const run = promisify(execFile);
const ROUNDS = 5;
const WARMUP_MIB = 128;

interface Daemon {
  proc: ChildProcess;
  socket: string;
  nodeId: number;
}

async function startDaemon(dir: string, name: string, registry: string): Promise<Daemon> {
  const socket = join(dir, `${name}.sock`);
  const proc = spawn(
    process.execPath,
    [
      PILOT,
      'daemon',
      '--registry',
      registry,
      '--listen',
      '127.0.0.1:0',
      '--socket',
      socket,
      '--public',
      '--log-level',
      'silent',
      // The reference's SYN limits (100/s, 10/s per source) would make 1,000 dials take minutes.
      '--syn-rate-limit',
      '100000',
      '--syn-rate-per-source',
      '100000',
    ],
    { env: { ...process.env, PILOT_HOME: join(dir, name) }, stdio: 'ignore' },
  );
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const driver = await connect(socket);
      const info = (await driver.info()) as { node_id: number };
      driver.close();
      return { proc, socket, nodeId: info.node_id };
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function cli(socket: string, args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [PILOT, '--json', '--socket', socket, ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout).data;
}

async function stop(d: Daemon): Promise<void> {
  d.proc.kill('SIGTERM');
  await once(d.proc, 'exit');
}

export const suite: BenchSuite = {
  name: 'daemon',
  issue: 6,
  async run(): Promise<BenchFigure[]> {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-bench-daemon-'));
    const registry = await startRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false });
    const r = registry.address as { host: string; port: number };
    const regAddr = `${r.host}:${r.port}`;
    const out: BenchFigure[] = [];
    let a: Daemon | null = null;
    let b: Daemon | null = null;
    try {
      a = await startDaemon(dir, 'a', regAddr);
      b = await startDaemon(dir, 'b', regAddr);
      const MIB = 64;
      // The same operations in-process, on two static nodes in two processes.
      const wa = await Worker.start(WORKER);
      const wb = await Worker.start(WORKER);
      const wd = await Worker.start(WORKER);
      const viaIpc: number[] = [];
      const viaDriver: number[] = [];
      const inProc: number[] = [];
      let ipcRtts: number[];
      let inRtts: number[];
      try {
        const ea = await wa.call('init', { nodeId: 1 });
        const eb = await wb.call('init', { nodeId: 2 });
        await wa.call('addPeer', eb);
        await wb.call('addPeer', ea);
        await wb.call('echo', { port: 7 });
        // Both paths get the same warm-up (keys, path MTU, optimised code in every process), then alternate
        // over a few rounds; the median of each is reported (a 2-core VM swings between runs). Every IPC
        // round is a new `pilot bench` process, so the CLI's own start-up and cold code stay in the figure.
        // A third series runs the same loop through daemon A's IPC socket from a warm client process (the
        // library driver), to show the IPC path apart from the CLI process's cold start.
        const viaSocket = { socket: a.socket, node: b.nodeId, port: 7 };
        await cli(a.socket, ['bench', String(b.nodeId), String(WARMUP_MIB)]);
        await wd.call('driverEchoBench', { ...viaSocket, bytes: WARMUP_MIB * 1048576 });
        // The daemons carried two warm-ups (CLI and driver): the in-process pair gets as much.
        await wa.call('echoBench', { node: 2, port: 7, bytes: 2 * WARMUP_MIB * 1048576 });
        for (let i = 0; i < ROUNDS; i++) {
          const v = await cli(a.socket, ['bench', String(b.nodeId), String(MIB)]);
          viaIpc.push(v.total_mbps as number);
          const d = await wd.call<{ mibPerSec: number }>('driverEchoBench', {
            ...viaSocket,
            bytes: MIB * 1048576,
          });
          viaDriver.push(d.mibPerSec);
          // Two in-process runs per round, so both pairs of processes carry the same traffic throughout.
          for (let k = 0; k < 2; k++) {
            const w = await wa.call<{ mibPerSec: number }>('echoBench', {
              node: 2,
              port: 7,
              bytes: MIB * 1048576,
            });
            inProc.push(w.mibPerSec);
          }
        }
        const pings = await cli(a.socket, ['ping', String(b.nodeId), '--count', '200', '--interval', '0']);
        ipcRtts = (pings.results as { rtt_ms: number }[]).map((x) => x.rtt_ms);
        inRtts = await wa.call('pingLike', { node: 2, port: 7, count: 200 });
      } finally {
        await wa.stop();
        await wb.stop();
        await wd.stop();
      }
      out.push(
        figure({
          name: 'daemon.bench_total_MiBps',
          value: percentile(viaIpc, 50),
          unit: 'MiB/s (echo round trip, 4 KiB writes)',
          baselineName: 'same echo bench in-process (streams API)',
          baseline: percentile(inProc, 50),
          target: '>= 0.7x in-process',
          minRatio: 0.7,
          note: `${MIB} MiB; median of ${ROUNDS} alternating rounds (two in-process runs each) after equal warm-ups of ${2 * WARMUP_MIB} MiB (IPC ${viaIpc.map((x) => x.toFixed(1)).join(', ')}; in-process ${inProc.map((x) => x.toFixed(1)).join(', ')})`,
        }),
        figure({
          name: 'daemon.ipc_driver_MiBps',
          value: percentile(viaDriver, 50),
          unit: 'MiB/s (same echo bench, library driver over IPC, warm client)',
          baselineName: 'same echo bench in-process (streams API)',
          baseline: percentile(inProc, 50),
          note: `diagnostic: the IPC path without the CLI's cold start (rounds ${viaDriver.map((x) => x.toFixed(1)).join(', ')})`,
        }),
        figure({
          name: 'daemon.ping_p50_ms',
          value: percentile(ipcRtts, 50),
          unit: 'ms (new stream to echo per probe)',
          baselineName: 'same probe in-process',
          baseline: percentile(inRtts, 50),
        }),
      );

      // Memory: idle, then with 1,000 open streams through daemon A (held by an IPC client).
      const driver = await connect(a.socket);
      const idle = (await driver.info()) as unknown as { memory_rss: number; heap_used: number };
      const held: { destroy(): void }[] = [];
      let failed = 0;
      let firstError = '';
      for (let i = 0; i < 1000 && failed < 50; i += 50) {
        const r = await Promise.allSettled(
          Array.from({ length: 50 }, () => driver.dial(makeAddr(0, b!.nodeId), 7, { timeoutMs: 5000 })),
        );
        for (const x of r) {
          if (x.status === 'fulfilled') held.push(x.value);
          else {
            failed++;
            firstError ||= (x.reason as Error).message;
          }
        }
      }
      const busy = (await driver.info()) as unknown as {
        memory_rss: number;
        heap_used: number;
        connections: number;
      };
      for (const s of held) s.destroy();
      driver.close();
      out.push(
        figure({ name: 'daemon.rss_idle_MB', value: idle.memory_rss / 1e6, unit: 'MB RSS' }),
        figure({
          name: 'daemon.rss_1000_streams_MB',
          value: busy.memory_rss / 1e6,
          unit: 'MB RSS',
          baselineName: 'idle',
          baseline: idle.memory_rss / 1e6,
          note: `${busy.connections} connections (${failed} dials failed${firstError ? `: ${firstError}` : ''}); heap ${(idle.heap_used / 1e6).toFixed(1)} → ${(busy.heap_used / 1e6).toFixed(1)} MB`,
        }),
      );
    } finally {
      if (a) await stop(a);
      if (b) await stop(b);
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
};
