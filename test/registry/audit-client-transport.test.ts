/**
 * Audit of the client transport against a buggy or hostile registry:
 * - once an answer shows the stream is out of sync, later answers in the same chunk must not be matched to the
 *   remaining requests (they are retried on a fresh connection instead);
 * - closing the client while a connection attempt is under way releases that socket at once;
 * - a request made after the connection was dropped (a timed-out request) but before the socket's 'close' event
 *   is not lost with it: it goes out on the next connection, even if it is not safe to repeat.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { RegistryClient } from '../../src/registry/index.js';

type Script = (msgs: Array<Record<string, unknown>>, socket: Socket, conn: number) => void;

/** A scripted registry: `script` sees every request received so far on a connection. */
async function fakeRegistry(
  script: Script,
): Promise<{ port: number; conns: () => number; closed: (conn: number) => Promise<void> }> {
  let conns = 0;
  const sockets = new Set<Socket>();
  const closed = new Map<number, Promise<void>>();
  const server: Server = createServer((socket) => {
    const conn = ++conns;
    sockets.add(socket);
    closed.set(conn, new Promise((r) => socket.once('close', () => r())));
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20);
    const msgs: Array<Record<string, unknown>> = [];
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (payload) => {
        msgs.push(JSON.parse(payload.toString()) as Record<string, unknown>);
        if (!socket.destroyed) script(msgs, socket, conn);
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
    closed: (conn) => closed.get(conn) ?? Promise.reject(new Error(`no connection ${conn}`)),
  };
}

const frame = (v: unknown): Buffer => encodeFrame(JSON.stringify(v));
const HOSTS: Record<string, number> = { bob: 5, carol: 6 };

describe('audit: client transport', () => {
  it('answers after an out-of-order one in the same chunk are not matched to later requests', async () => {
    const reg = await fakeRegistry((msgs, socket, conn) => {
      if (conn === 1) {
        if (msgs.length < 3) return;
        // A stale answer first: the stream is out of sync by one frame.
        socket.write(
          Buffer.concat([
            frame({ type: 'resolve_hostname_ok', node_id: 5, hostname: 'bob', address: '0:0000.0000.0005' }),
            frame({ type: 'lookup_ok', node_id: 7 }),
            frame({ type: 'resolve_hostname_ok', node_id: 5, hostname: 'bob', address: '0:0000.0000.0005' }),
            frame({
              type: 'resolve_hostname_ok',
              node_id: 6,
              hostname: 'carol',
              address: '0:0000.0000.0006',
            }),
          ]),
        );
        return;
      }
      const m = msgs[msgs.length - 1];
      if (m.type === 'resolve_hostname') {
        const name = String(m.hostname);
        socket.write(frame({ type: 'resolve_hostname_ok', node_id: HOSTS[name], hostname: name }));
      } else if (m.type === 'lookup') {
        socket.write(frame({ type: 'lookup_ok', node_id: m.node_id }));
      }
    });
    const c = new RegistryClient({
      host: '127.0.0.1',
      port: reg.port,
      timeoutMs: 3000,
      backoffInitialMs: 10,
    });
    onTestFinished(() => c.close());
    const [a, b, carol] = await Promise.allSettled([
      c.lookup(7),
      c.resolveHostname('bob'),
      c.resolveHostname('carol'),
    ]);
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'ERR_REGISTRY_PROTOCOL' } });
    // "carol" must never come back as bob's node.
    expect(carol).toMatchObject({ status: 'fulfilled', value: { node_id: 6, hostname: 'carol' } });
    expect(b).toMatchObject({ status: 'fulfilled', value: { node_id: 5, hostname: 'bob' } });
    expect(reg.conns()).toBe(2);
  });

  it('close() during a connection attempt releases the socket at once', async () => {
    // Accepts TCP but never answers the TLS handshake: the client is stuck in its dial.
    const reg = await fakeRegistry(() => {});
    const c = new RegistryClient({
      host: '127.0.0.1',
      port: reg.port,
      tls: { fingerprint: '00'.repeat(32) },
      connectTimeoutMs: 10_000,
      timeoutMs: 10_000,
    });
    const pending = c.listNetworks();
    const rejected = expect(pending).rejects.toMatchObject({ code: 'ERR_REGISTRY_CLOSED' });
    const deadline = Date.now() + 3000;
    while (reg.conns() === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(reg.conns()).toBe(1);
    const started = Date.now();
    c.close();
    await rejected;
    const released = await Promise.race([
      reg.closed(1).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
    ]);
    expect(released).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a request sent right after a wire timeout goes out on the next connection', async () => {
    const reg = await fakeRegistry((msgs, socket) => {
      const m = msgs[msgs.length - 1];
      if (m.type === 'lookup') return; // never answered
      if (m.type === 'create_network') {
        socket.write(frame({ type: 'create_network_ok', network_id: 9, name: m.name, join_rule: 'open' }));
      }
    });
    const c = new RegistryClient({
      host: '127.0.0.1',
      port: reg.port,
      timeoutMs: 3000,
      backoffInitialMs: 10,
    });
    onTestFinished(() => c.close());
    const followUp = c.lookup(1, { timeoutMs: 100 }).then(
      () => {
        throw new Error('lookup answered');
      },
      (err: { code?: string }) => {
        expect(err.code).toBe('ERR_REGISTRY_TIMEOUT');
        // Not safe to repeat, so it must not have been written to the dropped connection.
        return c.createNetwork({ name: 'lab', adminToken: 'adm' });
      },
    );
    await expect(followUp).resolves.toMatchObject({ network_id: 9 });
    expect(reg.conns()).toBe(2);
  });
});
