/**
 * Audit 3: a local client that stops reading its socket while the daemon has data queued for it (replies,
 * stream data) must not hold its connection, its queued data, its streams and its ports forever. After
 * `clientStallTimeoutMs` without reading any of it, the daemon drops it as if it had disconnected. A client
 * that is merely slow (keeps reading) is kept.
 */
import { EventEmitter, once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { addrToBytes, makeAddr } from '../../src/coreapi/addr.js';
import type { Logger } from '../../src/coreapi/logger.js';
import type { Stream } from '../../src/coreapi/streams.js';
import { Cmd } from '../../src/ipc/constants.js';
import { createIpcServer } from '../../src/ipc/server.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { nextEvent, within } from '../helpers/wait.js';
import { FakeControl, RawClient, startDaemon, tempSocketPath, type TestDaemon } from './helpers.js';

const NODE = makeAddr(1, 0x0a);
const PEER = makeAddr(1, 0x0b);
const BOUND_PORT = 1000;
const SERVICE_PORT = 7;

interface LogRecord {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A pino-shaped logger that records every call and emits it as a 'log' event. */
class CaptureLogger extends EventEmitter {
  readonly records: LogRecord[] = [];

  logger(bindings: Record<string, unknown> = {}): Logger {
    const at =
      (level: string) =>
      (a: unknown, b?: unknown): void => {
        const fields = typeof a === 'object' && a !== null ? (a as Record<string, unknown>) : {};
        const msg = typeof a === 'string' ? a : typeof b === 'string' ? b : '';
        const r: LogRecord = { level, msg, fields: { ...bindings, ...fields } };
        this.records.push(r);
        this.emit('log', r);
      };
    return {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => this.logger({ ...bindings, ...more }),
    };
  }

  /** The next record whose message matches `re`. */
  next(re: RegExp, timeoutMs: number): Promise<LogRecord> {
    const seen = this.records.find((r) => re.test(r.msg));
    if (seen) return Promise.resolve(seen);
    return nextEvent<[LogRecord]>(this, 'log', timeoutMs, (r) => re.test(r.msg)).then(([r]) => r);
  }
}

async function setup(
  stallMs: number,
): Promise<{ daemon: TestDaemon; logs: CaptureLogger; accepted: Stream[] }> {
  const logs = new CaptureLogger();
  const net = createMemoryNetwork();
  const daemon = await startDaemon(net, NODE, { clientStallTimeoutMs: stallMs, logger: logs.logger() });
  onTestFinished(async () => {
    await daemon.close();
    await net.close();
  });
  const l = await net.node(PEER).listen(SERVICE_PORT);
  onTestFinished(() => l.close());
  const accepted: Stream[] = [];
  void (async () => {
    for await (const s of l) {
      s.on('error', () => {});
      accepted.push(s);
    }
  })();
  return { daemon, logs, accepted };
}

function dialMessage(): Buffer {
  return Buffer.concat([Buffer.from([Cmd.Dial]), addrToBytes(PEER), Buffer.from([0, SERVICE_PORT])]);
}

function bindMessage(port: number): Buffer {
  return Buffer.from([Cmd.Bind, port >> 8, port & 0xff]);
}

/** Dial the peer's service through `raw`; resolves with the conn id and the peer's end of the stream. */
async function dialPeer(raw: RawClient, accepted: Stream[]): Promise<[number, Stream]> {
  const before = accepted.length;
  raw.send(dialMessage());
  const ok = await raw.next();
  expect(ok[0]).toBe(Cmd.DialOK);
  const connId = ok.readUInt32BE(1);
  await expect.poll(() => accepted.length, { timeout: 3000 }).toBe(before + 1);
  return [connId, accepted[before]];
}

/** Read up to `max` bytes of what a paused client socket has buffered (a deliberately slow reader). */
function readSome(client: RawClient, max: number): void {
  const n = Math.min(max, client.socket.readableLength);
  if (n > 0) client.socket.read(n);
}

/** Resolves true once `port` can be bound on the daemon's node again (the client's listener is gone). */
async function portFree(daemon: TestDaemon, port: number): Promise<boolean> {
  try {
    const l = await daemon.streams.listen(port);
    await l.close();
    return true;
  } catch {
    return false;
  }
}

describe('IPC server, a client that stops reading its socket', () => {
  it('is dropped after clientStallTimeoutMs: its streams are closed and its ports released', async () => {
    const STALL = 300;
    const { daemon, logs, accepted } = await setup(STALL);
    const hog = await RawClient.connect(daemon.socketPath);
    hog.send(bindMessage(BOUND_PORT));
    expect((await hog.next())[0]).toBe(Cmd.BindOK);
    const [, peerEnd] = await dialPeer(hog, accepted);
    expect(await portFree(daemon, BOUND_PORT)).toBe(false);
    // A well-behaved client next to it.
    const good = await RawClient.connect(daemon.socketPath);
    good.send(Buffer.from([Cmd.Info]));
    expect((await good.next())[0]).toBe(Cmd.InfoOK);
    expect(daemon.server.clientCount).toBe(2);

    // The hog stops reading; the peer sends it far more than any socket buffer holds.
    hog.socket.pause();
    const peerEnded = once(peerEnd, 'end');
    peerEnd.resume();
    peerEnd.write(Buffer.alloc(8 * 1024 * 1024, 0x61));

    const started = performance.now();
    const drop = await logs.next(/not read its socket/, 5000);
    const elapsed = performance.now() - started;
    expect(drop.level).toBe('warn');
    expect(drop.fields).toMatchObject({ ipcClient: 1, stallTimeoutMs: STALL, connections: 1, ports: 1 });
    expect(drop.fields.queuedBytes as number).toBeGreaterThan(0);
    expect(elapsed).toBeGreaterThanOrEqual(STALL - 50);

    // Everything the hog held is released, as on a disconnect.
    await expect.poll(() => daemon.server.clientCount, { timeout: 3000 }).toBe(1);
    await within(peerEnded, 3000, 'the peer to see the daemon close the stream');
    await expect.poll(() => portFree(daemon, BOUND_PORT), { timeout: 3000 }).toBe(true);
    // The hog sees its connection closed once it reads again.
    hog.socket.resume();
    await hog.waitClosed(3000);
    // The other client is untouched.
    good.send(Buffer.from([Cmd.Info]));
    expect((await good.next())[0]).toBe(Cmd.InfoOK);
    expect(good.closed).toBe(false);
  });

  it('is dropped when it pipelines requests and never reads the replies', async () => {
    const STALL = 300;
    const { daemon, logs } = await setup(STALL);
    daemon.control.infoExtra = { pad: 'x'.repeat(64 * 1024) };
    const hog = await RawClient.connect(daemon.socketPath);
    hog.send(bindMessage(BOUND_PORT));
    expect((await hog.next())[0]).toBe(Cmd.BindOK);
    hog.socket.pause();
    // 200 × 64 KiB of replies: far beyond what the socket buffers hold.
    const info = Buffer.from([0, 0, 0, 1, Cmd.Info]);
    hog.raw(Buffer.concat(Array.from({ length: 200 }, () => info)));
    const drop = await logs.next(/not read its socket/, 5000);
    expect(drop.fields).toMatchObject({ ipcClient: 1, ports: 1 });
    await expect.poll(() => daemon.server.clientCount, { timeout: 3000 }).toBe(0);
    await expect.poll(() => portFree(daemon, BOUND_PORT), { timeout: 3000 }).toBe(true);
  });

  it('a slow reader of one large write is kept, though its socket stays blocked past the limit', async () => {
    const STALL = 400;
    const { daemon, logs, accepted } = await setup(STALL);
    const slow = await RawClient.connect(daemon.socketPath);
    const [connId, peerEnd] = await dialPeer(slow, accepted);
    const TOTAL = 1536 * 1024;
    const payload = Buffer.alloc(TOTAL);
    for (let i = 0; i < TOTAL; i++) payload[i] = (i * 31) & 0xff;

    // About 32 KiB every 20 ms (~1.6 MB/s): the 1.5 MiB the daemon writes at once takes about a second.
    slow.socket.pause();
    const reader = setInterval(() => readSome(slow, 32 * 1024), 20);
    onTestFinished(() => clearInterval(reader));
    peerEnd.end(payload);

    const chunks: Buffer[] = [];
    let got = 0;
    for (let i = 0; got < TOTAL && i < 10_000; i++) {
      const m = await slow.next(5000);
      if (m[0] === Cmd.Recv && m.readUInt32BE(1) === connId) {
        chunks.push(m.subarray(5));
        got += m.length - 5;
      }
    }
    clearInterval(reader);
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
    // The daemon saw it blocked for longer than the limit while it read, and kept it.
    const slowRecord = logs.records.find((r) => /still reading/.test(r.msg));
    expect(slowRecord?.fields.blockedMs as number).toBeGreaterThanOrEqual(STALL);
    expect(logs.records.some((r) => /not read its socket/.test(r.msg))).toBe(false);
    expect(daemon.server.clientCount).toBe(1);
    slow.socket.resume();
    slow.send(Buffer.from([Cmd.Info]));
    let reply = await slow.next();
    if (reply[0] === Cmd.CloseOK) reply = await slow.next(); // the peer's end-of-stream may come first
    expect(reply[0]).toBe(Cmd.InfoOK);
    expect(slow.closed).toBe(false);
  });

  it('a slow reader under a datagram flood is kept, though its socket never drains', async () => {
    const STALL = 400;
    const { daemon, logs } = await setup(STALL);
    const slow = await RawClient.connect(daemon.socketPath);
    let read = 0;
    slow.socket.on('data', (chunk: Buffer) => (read += chunk.length));
    slow.socket.pause();
    // Every 20 ms: 128 KiB of datagrams in (the daemon queues up to its 4 MiB backlog, drops the rest) and
    // 32 KiB read out. The socket stays blocked throughout.
    const data = Buffer.alloc(8 * 1024, 0x62);
    const flood = (): void => {
      for (let i = 0; i < 16; i++) daemon.control.emit({ src: PEER, srcPort: 9, dstPort: 9, data });
      readSome(slow, 32 * 1024);
    };
    const timer = setInterval(flood, 20);
    onTestFinished(() => clearInterval(timer));
    // Wait until the socket has been blocked past the limit, then until the client read 2 MiB more (> 3 limits).
    const slowRecord = await logs.next(/still reading/, 5000);
    expect(slowRecord.fields.blockedMs as number).toBeGreaterThanOrEqual(STALL);
    const target = read + 2 * 1024 * 1024;
    await expect.poll(() => read, { timeout: 5000 }).toBeGreaterThanOrEqual(target);
    clearInterval(timer);
    expect(logs.records.some((r) => /not read its socket/.test(r.msg))).toBe(false);
    expect(daemon.server.clientCount).toBe(1);
    // It reads at full speed again: its connection is intact and answers.
    slow.socket.resume();
    slow.send(Buffer.from([Cmd.Info]));
    let reply: Buffer | null = null;
    for (let i = 0; i < 10_000 && reply === null; i++) {
      const m = await slow.next();
      if (m[0] !== Cmd.RecvFrom) reply = m;
    }
    expect(reply?.[0]).toBe(Cmd.InfoOK);
    expect(slow.closed).toBe(false);
  });

  it('rejects a negative or non-numeric clientStallTimeoutMs with ERR_INVALID_ARG', async () => {
    const net = createMemoryNetwork();
    onTestFinished(() => net.close());
    for (const bad of [-1, Number.NaN]) {
      await expect(
        createIpcServer({
          socketPath: tempSocketPath(),
          streams: net.node(NODE),
          control: new FakeControl(NODE),
          clientStallTimeoutMs: bad,
        }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    }
  });
});
