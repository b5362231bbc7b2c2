/** Benchmark worker: a pilot node (static peers) or raw node:dgram endpoints, driven over RPC. */
import { createSocket, type Socket } from 'node:dgram';
import { makeAddr } from '../../src/coreapi/addr.js';
import type { Stream } from '../../src/coreapi/streams.js';
import { connect, type Driver } from '../../src/ipc/index.js';
import { createStaticNode, type StaticNode } from '../../src/node/static-node.js';
import { emitEvent, memoryInUse, serve } from './rpc.js';
import { tuneDaemonGc } from '../../src/node/gc-tuning.js';

// Every benchmark process, baselines included, runs with the daemon's V8 settings (src/node/gc-tuning.ts).
tuneDaemonGc();

let node: StaticNode | null = null;
let raw: Socket | null = null;
let driver: Driver | null = null;
const held: Stream[] = [];
const rawCount = { n: 0, bytes: 0, t0: 0, t1: 0 };

/** One raw node:dgram ping-pong (the peer runs rawEcho), in ms. */
function rawRoundTrip(msg: Buffer, port: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    raw!.once('message', () => resolve(performance.now() - t0));
    raw!.send(msg, port, '127.0.0.1');
  });
}

/** Write `msg` on an echo stream and wait until as many bytes came back, in ms. */
function echoRoundTrip(s: Stream, msg: Buffer): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let got = 0;
    const on = (c: Buffer): void => {
      got += c.length;
      if (got < msg.length) return;
      s.off('data', on);
      resolve(performance.now() - t0);
    };
    s.on('data', on);
    s.write(msg);
  });
}

/** `pilot bench`'s loop: `bytes` in 4 KiB writes to an echo stream, until all of it came back. */
async function echoBytes(s: Stream, bytes: number): Promise<{ ms: number; mibPerSec: number }> {
  const chunk = Buffer.alloc(4096, 0x61);
  const t0 = performance.now();
  let got = 0;
  const done = new Promise<void>((resolve) => {
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got >= bytes) resolve();
    });
  });
  for (let sent = 0; sent < bytes; sent += 4096) {
    if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
  }
  await done;
  const ms = performance.now() - t0;
  return { ms, mibPerSec: bytes / 1048576 / (ms / 1000) };
}

serve({
  async init(a: { nodeId: number; streams?: Record<string, unknown>; tunnel?: Record<string, unknown> }) {
    node = await createStaticNode({ nodeId: a.nodeId, streams: a.streams, tunnel: a.tunnel });
    const e = node.peerEntry();
    return { nodeId: e.nodeId, publicKey: Buffer.from(e.publicKey).toString('hex'), endpoint: e.endpoint };
  },
  addPeer(a: { nodeId: number; publicKey: string; endpoint: { host: string; port: number } }) {
    node?.addPeer({ nodeId: a.nodeId, publicKey: Buffer.from(a.publicKey, 'hex'), endpoint: a.endpoint });
  },
  async sink(a: { port: number }) {
    const l = await node!.streams.listen(a.port);
    void (async () => {
      for (;;) {
        const s = await l.accept().catch(() => null);
        if (!s) return;
        let n = 0;
        let t0 = 0;
        s.on('data', (c: Buffer) => {
          if (n === 0) t0 = performance.now();
          n += c.length;
        });
        s.on('end', () => {
          emitEvent('sink', { bytes: n, ms: performance.now() - t0 });
          s.end();
        });
        s.on('error', () => {});
      }
    })();
  },
  async echo(a: { port: number }) {
    const l = await node!.streams.listen(a.port);
    void (async () => {
      for (;;) {
        const s = await l.accept().catch(() => null);
        if (!s) return;
        s.setNoDelay(true);
        s.on('data', (c: Buffer) => s.write(c));
        s.on('end', () => s.end());
        s.on('error', () => {});
      }
    })();
  },
  async send(a: { node: number; port: number; bytes: number; chunk: number }) {
    const s = await node!.streams.dial(makeAddr(0, a.node), a.port);
    const buf = Buffer.alloc(a.chunk, 0x5a);
    let sent = 0;
    const t0 = performance.now();
    while (sent < a.bytes) {
      const n = Math.min(a.chunk, a.bytes - sent);
      if (!s.write(n === a.chunk ? buf : buf.subarray(0, n))) await new Promise((r) => s.once('drain', r));
      sent += n;
    }
    s.end();
    await new Promise((r) => s.once('finish', r));
    const st = { ...s.stats(), ...(s as unknown as { details(): object }).details() };
    s.resume();
    return { ms: performance.now() - t0, stats: st };
  },
  async echoRtt(a: { node: number; port: number; count: number; size: number }) {
    const s = await node!.streams.dial(makeAddr(0, a.node), a.port);
    s.setNoDelay(true);
    const msg = Buffer.alloc(a.size, 1);
    const samples: number[] = [];
    for (let i = 0; i < a.count; i++) samples.push(await echoRoundTrip(s, msg));
    s.end();
    return samples;
  },
  /** What `pilot bench` does, in-process: 4 KiB writes to echo, read everything back. */
  async echoBench(a: { node: number; port: number; bytes: number }) {
    const s = await node!.streams.dial(makeAddr(0, a.node), a.port);
    const r = await echoBytes(s, a.bytes);
    s.end();
    return r;
  },
  /**
   * The same echo bench through a daemon's IPC socket with the library driver, from this (warm) process:
   * the IPC path without the CLI's start-up and cold code.
   */
  async driverEchoBench(a: { socket: string; node: number; port: number; bytes: number }) {
    driver ??= await connect(a.socket);
    const s = await driver.dial(makeAddr(0, a.node), a.port);
    const r = await echoBytes(s, a.bytes);
    s.destroy();
    return r;
  },
  /** What `pilot ping` does, in-process: a new stream to echo per probe, write, read the echo. */
  async pingLike(a: { node: number; port: number; count: number }) {
    const out: number[] = [];
    for (let i = 0; i < a.count; i++) {
      const t0 = performance.now();
      const s = await node!.streams.dial(makeAddr(0, a.node), a.port);
      await new Promise<void>((resolve) => {
        s.once('data', () => resolve());
        s.write(`ping-${i}`);
      });
      out.push(performance.now() - t0);
      s.end();
      s.resume();
    }
    return out;
  },
  /**
   * Echo round trips on one stream interleaved with raw node:dgram ping-pongs, one of each per step, so both
   * see the same scheduling and CPU state (on a small VM the loopback RTT drifts by 3× between runs).
   */
  async echoVsRaw(a: { node: number; port: number; rawPort: number; count: number; size: number }) {
    const s = await node!.streams.dial(makeAddr(0, a.node), a.port);
    s.setNoDelay(true);
    const msg = Buffer.alloc(a.size, 1);
    const echo: number[] = [];
    const rawRtt: number[] = [];
    for (let i = 0; i < a.count; i++) {
      rawRtt.push(await rawRoundTrip(msg, a.rawPort));
      echo.push(await echoRoundTrip(s, msg));
    }
    s.end();
    return { echo, raw: rawRtt };
  },
  /**
   * Dial-to-established times interleaved with raw ping-pongs. After each dial one untimed echo on the new
   * stream lets the server finish accepting it, so the next raw sample starts from the same state as in
   * `echoVsRaw`. Streams stay open until the end.
   */
  async dialVsRaw(a: { node: number; port: number; rawPort: number; count: number }) {
    const dial: number[] = [];
    const rawRtt: number[] = [];
    const open: Stream[] = [];
    const msg = Buffer.alloc(64, 1);
    for (let i = 0; i < a.count; i++) {
      rawRtt.push(await rawRoundTrip(msg, a.rawPort));
      const t0 = performance.now();
      const s = await node!.streams.dial(makeAddr(0, a.node), a.port);
      dial.push(performance.now() - t0);
      s.on('error', () => {});
      s.setNoDelay(true);
      await echoRoundTrip(s, msg.subarray(0, 1));
      open.push(s);
    }
    for (const s of open) s.destroy();
    return { dial, raw: rawRtt };
  },
  async idleOpen(a: { node: number; port: number; count: number }) {
    const before = memoryInUse();
    for (let i = 0; i < a.count; i += 200) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(200, a.count - i) }, () =>
          node!.streams.dial(makeAddr(0, a.node), a.port),
        ),
      );
      for (const s of batch) {
        s.setNoDelay(true);
        s.on('error', () => {});
        held.push(s);
      }
    }
    const after = memoryInUse();
    const t0 = performance.now();
    await Promise.all(
      held.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.once('data', () => resolve());
            s.write('x');
          }),
      ),
    );
    return { bytesPerStream: (after - before) / a.count, roundTripAllMs: performance.now() - t0 };
  },
  async rawBind() {
    raw = createSocket('udp4');
    await new Promise<void>((r) => raw!.bind(0, '127.0.0.1', r));
    raw.setRecvBufferSize(4 * 1024 * 1024);
    raw.setSendBufferSize(4 * 1024 * 1024);
    return raw.address().port;
  },
  rawEcho() {
    raw!.on('message', (m, r) => raw!.send(m, r.port, r.address));
  },
  async rawPingPong(a: { port: number; count: number; size: number }) {
    const msg = Buffer.alloc(a.size, 1);
    const samples: number[] = [];
    for (let i = 0; i < a.count; i++) samples.push(await rawRoundTrip(msg, a.port));
    return samples;
  },
  rawSink() {
    raw!.on('message', (m) => {
      const now = performance.now();
      if (rawCount.n === 0) rawCount.t0 = now;
      rawCount.t1 = now;
      rawCount.n++;
      rawCount.bytes += m.length;
    });
  },
  rawReport() {
    const r = { ...rawCount };
    rawCount.n = 0;
    rawCount.bytes = 0;
    return r;
  },
  async rawBlast(a: { port: number; count: number; size: number; rate: number }) {
    const buf = Buffer.alloc(a.size, 1);
    const start = performance.now();
    let i = 0;
    while (i < a.count) {
      const due = Math.min(a.count, Math.floor(((performance.now() - start) / 1000) * a.rate) + 1);
      const end = Math.min(due, i + 64);
      while (i < end) {
        raw!.send(buf, a.port, '127.0.0.1');
        i++;
      }
      await new Promise((r) => setImmediate(r));
    }
    return performance.now() - start;
  },
  async close() {
    await driver?.close();
    await node?.close();
    raw?.close();
  },
});
