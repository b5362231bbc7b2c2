/**
 * RegistryClient transport behaviour against real sockets: pipelining in order, reconnect and backoff, retry once,
 * deadlines, AbortSignal, protocol violations, TLS with a pinned fingerprint, and typed errors for each failure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { RegistryClient, startRegistry } from '../../src/registry/index.js';
import { clientFor, makeIdentity, registerNode, startTestRegistry, waitFor } from './helpers.js';

type FakeHandler = (msg: Record<string, unknown>, socket: Socket, conn: number) => unknown;

/** A scripted registry: `handler` returns the answer object, or undefined for no answer. */
async function fakeRegistry(
  handler: FakeHandler,
): Promise<{ server: Server; port: number; conns: () => number }> {
  let conns = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const conn = ++conns;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (payload) => {
        const answer = handler(JSON.parse(payload.toString()) as Record<string, unknown>, socket, conn);
        if (answer !== undefined && !socket.destroyed) socket.write(encodeFrame(JSON.stringify(answer)));
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
  return { server, port: (server.address() as { port: number }).port, conns: () => conns };
}

function client(
  port: number,
  opts: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {},
): RegistryClient {
  const c = new RegistryClient({ host: '127.0.0.1', port, backoffInitialMs: 10, backoffMaxMs: 40, ...opts });
  onTestFinished(() => c.close());
  return c;
}

describe('pipelining and reconnection', () => {
  it('pipelines many requests on one connection and matches answers in order', async () => {
    const server = await startTestRegistry();
    const nodes = await Promise.all(Array.from({ length: 5 }, () => registerNode(server)));
    const c = clientFor(server);
    const ids = Array.from({ length: 500 }, (_, i) => (i % 6) + 1);
    const results = await Promise.allSettled(ids.map((id) => c.lookup(id)));
    results.forEach((r, i) => {
      if (ids[i] === 6)
        expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ERR_REGISTRY_NOT_FOUND' } });
      else expect(r).toMatchObject({ status: 'fulfilled', value: { node_id: ids[i] } });
    });
    expect(nodes).toHaveLength(5);
  });

  it('reconnects transparently after the server closed an idle connection', async () => {
    const server = await startTestRegistry({ idleTimeoutMs: 100 });
    const c = clientFor(server);
    let disconnects = 0;
    c.on('disconnect', () => disconnects++);
    await c.listNetworks();
    await waitFor(() => disconnects === 1);
    expect((await c.listNetworks()).networks).toHaveLength(1);
  });

  it('reconnects with backoff to a registry that comes back on the same port', async () => {
    const first = await startRegistry({ port: 0, registrationRateLimit: false });
    onTestFinished(() => first.close());
    const port = (first.address as { port: number }).port;
    const id = makeIdentity();
    const c = client(port, { signer: id, reconnectAttempts: 8, backoffInitialMs: 50, backoffMaxMs: 100 });
    const reg = await c.register();
    await first.close();
    const pending = c.lookup(reg.node_id).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 120));
    const second = await startTestRegistry({ port });
    const ans = (await pending) as { code?: string };
    expect(ans.code).toBe('ERR_REGISTRY_NOT_FOUND');
    expect((await c.register()).node_id).toBe(1);
    expect(second.state.nodes.size).toBe(1);
  });

  it('fails with ERR_REGISTRY_UNAVAILABLE when every attempt fails', async () => {
    const fake = await fakeRegistry(() => undefined);
    const port = fake.port;
    await new Promise<void>((r) => fake.server.close(() => r()));
    const c = client(port, { reconnectAttempts: 3 });
    const t = Date.now();
    await expect(c.listNetworks()).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNAVAILABLE' });
    expect(Date.now() - t).toBeGreaterThanOrEqual(25); // 10 + 20 ms of backoff
  });

  it('retries a request once when the connection breaks before the answer; not unsafe ones', async () => {
    const fake = await fakeRegistry((msg, socket, conn) => {
      if (conn === 1) {
        socket.destroy();
        return undefined;
      }
      return { type: `${String(msg.type)}_ok`, conn };
    });
    const c = client(fake.port);
    expect(await c.request({ type: 'list_networks' })).toMatchObject({ type: 'list_networks_ok', conn: 2 });
    const fake2 = await fakeRegistry((_msg, socket) => {
      socket.destroy();
      return undefined;
    });
    const c2 = client(fake2.port);
    await expect(c2.updatePoloScore(1, 1)).rejects.toMatchObject({ code: 'ERR_REGISTRY_CONNECTION' });
    await expect(c2.listNetworks()).rejects.toMatchObject({ code: 'ERR_REGISTRY_CONNECTION' });
    expect(fake2.conns()).toBeGreaterThanOrEqual(3);
  });
});

describe('deadlines, abort and protocol errors', () => {
  it('times out a request the server never answers', async () => {
    const fake = await fakeRegistry(() => undefined);
    const c = client(fake.port, { timeoutMs: 100 });
    await expect(c.listNetworks()).rejects.toMatchObject({ code: 'ERR_REGISTRY_TIMEOUT' });
    await expect(c.listNetworks({ timeoutMs: 30 })).rejects.toMatchObject({ code: 'ERR_REGISTRY_TIMEOUT' });
  });

  it('aborts one request without disturbing the next one on the same connection', async () => {
    const fake = await fakeRegistry((msg, socket) => {
      setTimeout(() => {
        if (!socket.destroyed)
          socket.write(encodeFrame(JSON.stringify({ type: `${String(msg.type)}_ok`, n: msg.n })));
      }, 60);
      return undefined;
    });
    const c = client(fake.port);
    const ac = new AbortController();
    const first = c.request({ type: 'echo', n: 1 }, { signal: ac.signal });
    const second = c.request({ type: 'echo', n: 2 });
    ac.abort();
    await expect(first).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(await second).toMatchObject({ n: 2 });
    const pre = new AbortController();
    pre.abort();
    await expect(c.request({ type: 'echo', n: 3 }, { signal: pre.signal })).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
  });

  it('answers of the wrong type or malformed frames are protocol errors', async () => {
    const fake = await fakeRegistry((msg) =>
      msg.type === 'lookup' ? { type: 'other_ok' } : { type: 'error' },
    );
    const c = client(fake.port);
    await expect(c.lookup(1)).rejects.toMatchObject({ code: 'ERR_REGISTRY_PROTOCOL' });
    // An error answer without a code (a reference server) is the generic code with its text.
    await expect(c.listNetworks()).rejects.toMatchObject({
      code: 'ERR_REGISTRY_REQUEST_FAILED',
      message: 'registry: request failed',
    });
  });

  it('closed clients and unsigned clients fail with their own codes', async () => {
    const server = await startTestRegistry();
    const c = clientFor(server);
    await expect(c.heartbeat({ nodeId: 1 })).rejects.toMatchObject({ code: 'ERR_REGISTRY_NO_SIGNER' });
    await expect(c.register()).rejects.toMatchObject({ code: 'ERR_REGISTRY_NO_SIGNER' });
    const signed = clientFor(server, makeIdentity());
    await expect(signed.heartbeat()).rejects.toMatchObject({ code: 'ERR_REGISTRY_NO_SIGNER' });
    const pending = c.listNetworks();
    c.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_REGISTRY_CLOSED' });
    await expect(c.listNetworks()).rejects.toMatchObject({ code: 'ERR_REGISTRY_CLOSED' });
  });
});

describe('TLS', () => {
  it('pins the self-signed certificate; a wrong pin is refused before anything is sent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pilot-tls-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const store = join(dir, 'reg.json');
    const s1 = await startRegistry({ port: 0, store, tls: true, registrationRateLimit: false });
    onTestFinished(() => s1.close());
    const fp = s1.fingerprint as string;
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    const id = makeIdentity();
    const good = clientFor(s1, id, { tls: { fingerprint: fp.toUpperCase().replace(/(..)(?!$)/g, '$1:') } });
    expect((await good.register()).node_id).toBe(1);
    const bad = clientFor(s1, makeIdentity(), {
      tls: { fingerprint: 'ab'.repeat(32) },
      reconnectAttempts: 1,
    });
    await expect(bad.register()).rejects.toMatchObject({ code: 'ERR_REGISTRY_TLS_FINGERPRINT' });
    expect(s1.state.nodes.size).toBe(1);
    const plain = clientFor(s1, makeIdentity(), { reconnectAttempts: 1, timeoutMs: 500 });
    await expect(plain.listNetworks()).rejects.toMatchObject({
      code: expect.stringMatching(/ERR_REGISTRY_/),
    });
    good.close();
    await s1.close();
    // The certificate persists next to the store: the fingerprint survives a restart.
    const s2 = await startTestRegistry({ store, tls: true });
    expect(s2.fingerprint).toBe(fp);
    expect((await clientFor(s2, id, { tls: { fingerprint: fp } }).register()).node_id).toBe(1);
  });
});
