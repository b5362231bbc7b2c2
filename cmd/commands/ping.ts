/**
 * `pilot ping` and `pilot bench`: round trips and throughput against a node's echo service (port 7).
 */
import { formatAddr, PORT_ECHO, type Addr, type Stream } from '../../src/client.js';
import type { CommandContext } from '../command-context.js';
import { arg, command, flag } from '../command-spec.js';
import { CliError, toCliError, type CliErrorCode } from '../errors.js';
import { deadline, readReply, release, sleep, timedOut } from '../io-util.js';

interface PingResult {
  seq: number;
  bytes: number;
  rtt_ms: number;
  error?: string;
}

/** The CLI code of each failed ping (not part of the result). */
const failureCodes = new WeakMap<PingResult, CliErrorCode>();

interface PingData {
  target: string;
  results: PingResult[];
  timeout: boolean;
}

async function pingOnce(
  ctx: CommandContext,
  addr: Addr,
  seq: number,
  signal: AbortSignal,
): Promise<PingResult> {
  const payload = Buffer.from(`ping-${seq}`);
  const t0 = performance.now();
  let stream: Stream | null = null;
  try {
    stream = await (await ctx.driver()).dial(addr, PORT_ECHO, { signal });
    stream.setNoDelay(true);
    stream.write(payload);
    const reply = await readReply(stream, {
      max: payload.length,
      atLeast: payload.length,
      signal,
      what: 'echo reply',
    });
    if (reply.length < payload.length)
      throw new CliError('connection_failed', 'the echo service closed early');
    return { seq, bytes: reply.length, rtt_ms: round(performance.now() - t0) };
  } catch (err) {
    const e = timedOut(signal) ? new CliError('timeout', 'timeout') : toCliError(err);
    // No daemon: no ping can work, and the node is not what failed.
    if (e.cliCode === 'not_running') throw e;
    const r = { seq, bytes: 0, rtt_ms: round(performance.now() - t0), error: e.message };
    failureCodes.set(r, e.cliCode);
    return r;
  } finally {
    if (stream) release(stream);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

interface BenchData {
  target: string;
  sent_bytes: number;
  recv_bytes: number;
  send_duration_ms: number;
  total_duration_ms: number;
  send_mbps: number;
  total_mbps: number;
}

const BENCH_CHUNK = 4096;
const MIB = 1024 * 1024;

function mibPerSec(bytes: number, ms: number): number {
  return ms > 0 ? Math.round((bytes / MIB / (ms / 1000)) * 100) / 100 : 0;
}

export const pingCommands = [
  command<PingData>({
    name: 'ping',
    description: 'round trips to a node: dial its echo port, send `ping-<seq>`, wait for the echo',
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname')],
    flags: [
      flag('count', 'int', 'pings to send', { default: 4 }),
      flag('interval', 'duration', 'time between pings', { default: '1s' }),
      flag('timeout', 'duration', 'overall time limit', { default: '30s' }),
    ],
    returns: {
      target: 'the address pinged',
      results: '[{seq, bytes, rtt_ms, error?}]',
      timeout: 'true when the time limit stopped the pings',
    },
    async run(ctx, input) {
      const count = input.flags.count as number;
      if (count < 1) throw new CliError('invalid_argument', '--count must be at least 1');
      const signal = deadline(ctx.signal, input.flags.timeout as number);
      const addr = await ctx.resolveAddr(input.args.addr as string);
      const results: PingResult[] = [];
      for (let seq = 1; seq <= count && !signal.aborted; seq++) {
        const r = await pingOnce(ctx, addr, seq, signal);
        results.push(r);
        if (!ctx.out.json) {
          ctx.out.line(
            r.error
              ? `seq=${r.seq} error: ${r.error}`
              : `${r.bytes} bytes from ${formatAddr(addr)}: seq=${r.seq} time=${r.rtt_ms.toFixed(2)} ms`,
          );
        }
        if (seq < count && !(await sleep(input.flags.interval as number, signal))) break;
      }
      if (ctx.signal.aborted && !timedOut(signal)) throw ctx.signal.reason;
      const data = { target: formatAddr(addr), results, timeout: timedOut(signal) };
      if (results.length > 0 && results.every((r) => r.error)) {
        const last = results[results.length - 1];
        throw new CliError(
          failureCodes.get(last) ?? 'connection_failed',
          `no reply from ${data.target}: ${last.error}`,
          {
            hint: 'is the node online, and does it run the echo service?',
          },
        );
      }
      return data;
    },
    text: (d, out) => {
      const ok = d.results.filter((r) => !r.error);
      const rtts = ok.map((r) => r.rtt_ms);
      const loss = Math.round(((d.results.length - ok.length) / Math.max(1, d.results.length)) * 100);
      out.line(`--- ${d.target} ping statistics ---`);
      out.line(
        `${d.results.length} sent, ${ok.length} received, ${loss}% loss${d.timeout ? ' (time limit reached)' : ''}`,
      );
      if (rtts.length > 0) {
        const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
        out.line(
          `rtt min/avg/max = ${Math.min(...rtts).toFixed(2)}/${avg.toFixed(2)}/${Math.max(...rtts).toFixed(2)} ms`,
        );
      }
    },
  }),

  command<BenchData>({
    name: 'bench',
    description: 'throughput: stream data through a node’s echo service in 4 KiB writes',
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname'), arg('size_mb', 'MiB to send', { default: '1' })],
    flags: [flag('timeout', 'duration', 'overall time limit', { default: '120s' })],
    returns: {
      target: 'the address',
      sent_bytes: 'bytes written',
      recv_bytes: 'bytes echoed back',
      send_duration_ms: 'time to hand every byte to the stream',
      total_duration_ms: 'time until every byte came back',
      send_mbps: 'MiB/s for sending',
      total_mbps: 'MiB/s for the round trip',
    },
    async run(ctx, input) {
      // Decimal only (`Number` would take `0x10` and `1e3`), and at least one byte to send.
      const text = String(input.args.size_mb).trim();
      const mb = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
      const total = Math.round(mb * MIB);
      if (!(total >= 1 && mb <= 4096)) {
        throw new CliError(
          'invalid_argument',
          `size "${String(input.args.size_mb)}" must be a decimal number of MiB, at least 1 byte and at most 4096`,
        );
      }
      const signal = deadline(ctx.signal, input.flags.timeout as number);
      const addr = await ctx.resolveAddr(input.args.addr as string);
      const stream = await (await ctx.driver()).dial(addr, PORT_ECHO, { signal });
      const chunk = Buffer.alloc(BENCH_CHUNK, 0x61);
      const t0 = performance.now();
      let sendMs: number;
      let echoed = 0;
      const received = readReply(stream, {
        max: total,
        atLeast: total,
        discard: true,
        onBytes: (n) => (echoed = n),
        signal,
        what: 'echo of all the data',
      });
      received.catch(() => {});
      try {
        for (let sent = 0; sent < total;) {
          const n = Math.min(BENCH_CHUNK, total - sent);
          const ok = stream.write(n === BENCH_CHUNK ? chunk : chunk.subarray(0, n));
          sent += n;
          if (!ok) await waitDrain(stream, signal);
        }
        sendMs = performance.now() - t0;
        stream.end();
        await received;
        const totalMs = performance.now() - t0;
        return {
          target: formatAddr(addr),
          sent_bytes: total,
          recv_bytes: echoed,
          send_duration_ms: round(sendMs),
          total_duration_ms: round(totalMs),
          send_mbps: mibPerSec(total, sendMs),
          total_mbps: mibPerSec(echoed, totalMs),
        };
      } finally {
        release(stream);
      }
    },
    text: (d, out) => {
      out.line(`sent ${d.sent_bytes} bytes in ${d.send_duration_ms.toFixed(1)} ms (${d.send_mbps} MiB/s)`);
      out.line(
        `echoed ${d.recv_bytes} bytes in ${d.total_duration_ms.toFixed(1)} ms (${d.total_mbps} MiB/s)`,
      );
    },
  }),
];

function waitDrain(stream: Stream, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', done);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new CliError('connection_failed', 'the stream closed while sending'));
    const onAbort = (): void =>
      done(
        timedOut(signal)
          ? new CliError('timeout', 'bench did not finish within the time limit')
          : (signal.reason as Error),
      );
    stream.once('drain', onDrain);
    stream.once('close', onClose);
    stream.once('error', done);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
