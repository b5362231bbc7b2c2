/**
 * Audit 5, client transport against a registry that stops answering:
 * - a request cancelled by its AbortSignal while on the wire still bounds the connection: when its deadline
 *   passes without an answer, the silent connection is replaced (otherwise callers that always pass a signal
 *   shorter than the deadline never recover from a stalled registry, and the abandoned requests pile up);
 * - a deadline longer than Node's timer range is not turned into an immediate timeout.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { RegistryClient } from '../../src/registry/index.js';

type Script = (msg: Record<string, unknown>, socket: Socket, conn: number) => void;

/** A scripted registry: `script` sees each request with its connection number (1-based). */
async function fakeRegistry(script: Script): Promise<{
  port: number;
  conns: () => number;
  received: (conn: number) => number;
  closed: (conn: number) => Promise<void>;
  firstRequest: Promise<void>;
}> {
  let conns = 0;
  const sockets = new Set<Socket>();
  const closed = new Map<number, Promise<void>>();
  const received = new Map<number, number>();
  let onFirst: () => void = () => {};
  const firstRequest = new Promise<void>((r) => (onFirst = r));
  const server: Server = createServer((socket) => {
    const conn = ++conns;
    sockets.add(socket);
    received.set(conn, 0);
    closed.set(conn, new Promise((r) => socket.once('close', () => r())));
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (payload) => {
        received.set(conn, (received.get(conn) ?? 0) + 1);
        onFirst();
        if (!socket.destroyed)
          script(JSON.parse(payload.toString()) as Record<string, unknown>, socket, conn);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as { port: number }).port,
    conns: () => conns,
    received: (conn) => received.get(conn) ?? 0,
    closed: (conn) => closed.get(conn) ?? Promise.reject(new Error(`no connection ${conn}`)),
    firstRequest,
  };
}

const frame = (v: unknown): Buffer => encodeFrame(JSON.stringify(v));

describe('audit5: client transport and a silent registry', () => {
  it('a request aborted on the wire still gets its stalled connection replaced at its deadline', async () => {
    // Connection 1 swallows everything (a hung registry or a half-open TCP connection); later ones answer.
    const reg = await fakeRegistry((msg, socket, conn) => {
      if (conn === 1) return;
      if (msg.type === 'beacon_list') socket.write(frame({ type: 'beacon_list_ok', beacons: [] }));
    });
    const c = new RegistryClient({ host: '127.0.0.1', port: reg.port, timeoutMs: 300, backoffInitialMs: 10 });
    onTestFinished(() => c.close());
    const ac = new AbortController();
    const first = c.beaconList({ signal: ac.signal });
    await reg.firstRequest;
    ac.abort();
    await expect(first).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    // The deadline of the abandoned request passes: the silent connection must be dropped ...
    await reg.closed(1);
    expect(reg.received(1)).toBe(1);
    // ... and the next request is answered on a fresh one.
    await expect(c.beaconList()).resolves.toMatchObject({ type: 'beacon_list_ok' });
    expect(reg.conns()).toBe(2);
  }, 5000);

  it('a deadline beyond the timer range does not fire at once', async () => {
    let answer: (() => void) | null = null;
    const reg = await fakeRegistry((msg, socket) => {
      // Answer a little later, after anything a 1 ms timer would have done.
      if (msg.type === 'beacon_list')
        answer = () => socket.write(frame({ type: 'beacon_list_ok', beacons: [] }));
    });
    const c = new RegistryClient({ host: '127.0.0.1', port: reg.port, timeoutMs: 2 ** 32 });
    onTestFinished(() => c.close());
    const p = c.beaconList();
    const outcome = p.then(
      () => 'answered',
      (e: { code?: string }) => e.code ?? 'error',
    );
    await reg.firstRequest;
    await new Promise<void>((r) => {
      // Let any (wrongly) clamped 1 ms timer fire before the answer is sent.
      const t = setTimeout(r, 20);
      onTestFinished(() => clearTimeout(t));
    });
    expect(answer).not.toBeNull();
    answer!();
    expect(await outcome).toBe('answered');
  });
});
