/**
 * Socket file handling, client and daemon disconnects, connection errors and extension fallback.
 */
import { once } from 'node:events';
import { existsSync, statSync, writeFileSync, readFileSync, renameSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { connect } from '../../src/ipc/connect.js';
import { FrameDecoder } from '../../src/ipc/frame-decoder.js';
import { encodeMessage, frame } from '../../src/ipc/protocol.js';
import { createIpcServer } from '../../src/ipc/server.js';
import { createMemoryNetwork, type MemoryNetwork } from '../../src/runtime/memory-streams.js';
import { closeError, readAll } from '../compliance/streams-suite.js';
import { waitFor } from '../helpers/wait.js';
import { FakeControl, RawClient, startDaemon, tempSocketPath } from './helpers.js';

const NODE = makeAddr(1, 0x0a);
const PEER = makeAddr(1, 0x0b);

function network(): MemoryNetwork {
  const net = createMemoryNetwork();
  onTestFinished(() => net.close());
  return net;
}

describe('IPC socket file', () => {
  it('is created with mode 0600 and removed on close', async () => {
    const net = network();
    const socketPath = tempSocketPath();
    const server = await createIpcServer({
      socketPath,
      streams: net.node(NODE),
      control: new FakeControl(NODE),
    });
    const st = statSync(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await server.close();
    expect(existsSync(socketPath)).toBe(false);
    await server.close(); // idempotent
  });

  it('replaces a stale socket file left by a dead daemon', async () => {
    const net = network();
    const socketPath = tempSocketPath();
    // A socket file nobody listens on: bind elsewhere, move it into place, stop listening.
    const tmp = join(dirname(socketPath), 'old.sock');
    const old: Server = createServer();
    await new Promise<void>((r) => old.listen(tmp, r));
    renameSync(tmp, socketPath);
    await new Promise<void>((r) => old.close(() => r()));
    expect(statSync(socketPath).isSocket()).toBe(true);

    const server = await createIpcServer({
      socketPath,
      streams: net.node(NODE),
      control: new FakeControl(NODE),
    });
    onTestFinished(() => server.close());
    const d = await connect(socketPath);
    onTestFinished(() => d.close());
    await expect(d.info()).resolves.toMatchObject({ node_id: NODE.node });
  });

  it('refuses to start when a live daemon answers on the path, leaving it untouched', async () => {
    const net = network();
    const first = await startDaemon(net, NODE);
    onTestFinished(() => first.close());
    await expect(
      createIpcServer({
        socketPath: first.socketPath,
        streams: net.node(PEER),
        control: new FakeControl(PEER),
      }),
    ).rejects.toMatchObject({ code: 'ERR_IPC_SOCKET_IN_USE' });
    const d = await connect(first.socketPath);
    onTestFinished(() => d.close());
    expect(d.addr).toEqual(NODE);
  });

  it('refuses a path that is not a socket and does not delete it', async () => {
    const net = network();
    const socketPath = tempSocketPath();
    writeFileSync(socketPath, 'precious');
    await expect(
      createIpcServer({ socketPath, streams: net.node(NODE), control: new FakeControl(NODE) }),
    ).rejects.toMatchObject({ code: 'ERR_IPC_SOCKET_PATH' });
    expect(readFileSync(socketPath, 'utf8')).toBe('precious');
    await expect(
      createIpcServer({
        socketPath: `/tmp/${'x'.repeat(120)}.sock`,
        streams: net.node(NODE),
        control: new FakeControl(NODE),
      }),
    ).rejects.toMatchObject({ code: 'ERR_IPC_SOCKET_PATH' });
  });

  it('refuses clients beyond maxClients', async () => {
    const net = network();
    const daemon = await startDaemon(net, NODE, { maxClients: 2 });
    onTestFinished(() => daemon.close());
    const a = await RawClient.connect(daemon.socketPath);
    const b = await RawClient.connect(daemon.socketPath);
    await waitFor(() => daemon.server.clientCount === 2, 2000, 'two clients');
    const c = await RawClient.connect(daemon.socketPath);
    await c.waitClosed();
    a.send('0d');
    expect((await a.next())[0]).toBe(0x0e);
    expect(b.closed).toBe(false);
  });
});

describe('IPC client disconnect', () => {
  it('closes the client’s streams (FIN) and releases its ports', async () => {
    const net = network();
    const daemon = await startDaemon(net, NODE);
    onTestFinished(() => daemon.close());
    const peer = net.node(PEER);
    const peerListener = await peer.listen(7);
    const d = await connect(daemon.socketPath);
    const l = await d.listen(80);
    const [inbound, accepted] = await Promise.all([peer.dial(NODE, 80), l.accept()]);
    const dialled = await d.dial(PEER, 7);
    const outbound = await peerListener.accept();
    expect(accepted.localPort).toBe(80);
    expect(dialled.remotePort).toBe(7);
    const inboundEnded = readAll(inbound);
    const outboundEnded = readAll(outbound);
    inbound.end('data before close');
    await waitFor(() => accepted.readableLength > 0, 2000, 'data at the driver');
    await d.close();
    // Both peers see a clean end-of-stream.
    await inboundEnded;
    await outboundEnded;
    await waitFor(() => daemon.server.clientCount === 0, 2000, 'client gone');
    // Port 80 is free for another client.
    const d2 = await connect(daemon.socketPath);
    onTestFinished(() => d2.close());
    const l2 = await d2.listen(80);
    expect(l2.port).toBe(80);
    // Calls on the closed driver fail with ERR_CLOSED.
    await expect(d.info()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(d.dial(PEER, 7)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('an abrupt client crash (socket destroyed) frees everything too', async () => {
    const net = network();
    const daemon = await startDaemon(net, NODE);
    onTestFinished(() => daemon.close());
    const peer = net.node(PEER);
    const raw = await RawClient.connect(daemon.socketPath);
    raw.send('01 0050');
    expect((await raw.next()).toString('hex')).toBe('020050');
    const inbound = await peer.dial(NODE, 80);
    await raw.next(); // Accept
    const ended = readAll(inbound);
    raw.socket.destroy();
    await ended;
    await waitFor(() => daemon.server.clientCount === 0, 2000, 'client gone');
    const l = await daemon.streams.listen(80);
    await l.close();
  });
});

describe('IPC daemon disconnect', () => {
  it('fails pending and later calls promptly with ERR_IPC_DISCONNECTED, errors open streams', async () => {
    const net = network();
    const daemon = await startDaemon(net, NODE);
    const peer = net.node(PEER);
    const pl = await peer.listen(7);
    const d = await connect(daemon.socketPath);
    const s = await d.dial(PEER, 7);
    const remote = await pl.accept();
    remote.on('error', () => {});
    const streamClosed = closeError(s);
    s.resume();
    const l = await d.listen(90);
    const acceptP = l.accept();
    daemon.control.gates.set('info', new Promise<void>(() => {})); // never answers
    const pending = d.info();
    const dialPending = d.dial(makeAddr(1, 0x99), 9); // unreachable: would take 10 s
    const disconnected = once(d, 'disconnect');
    const outcomes = Promise.all([
      expect(pending).rejects.toMatchObject({ code: 'ERR_IPC_DISCONNECTED' }),
      expect(dialPending).rejects.toMatchObject({ code: 'ERR_IPC_DISCONNECTED' }),
      expect(acceptP).rejects.toMatchObject({ code: 'ERR_CLOSED' }),
    ]);
    const t0 = Date.now();
    await daemon.close();
    await outcomes;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await streamClosed)?.code).toBe('ERR_IPC_DISCONNECTED');
    const [err] = (await disconnected) as [Error & { code: string }];
    expect(err.code).toBe('ERR_IPC_DISCONNECTED');
    expect(d.connected).toBe(false);
    await expect(d.info()).rejects.toMatchObject({ code: 'ERR_IPC_DISCONNECTED' });
    await expect(d.listen(91)).rejects.toMatchObject({ code: 'ERR_IPC_DISCONNECTED' });
    await expect(d.sendDatagram(PEER, 1, Buffer.from('x'))).rejects.toMatchObject({
      code: 'ERR_IPC_DISCONNECTED',
    });
    await d.close();
  });

  it('connect() reports a missing daemon (ERR_IPC_CONNECT) and honours abort', async () => {
    const socketPath = tempSocketPath();
    await expect(connect(socketPath)).rejects.toMatchObject({ code: 'ERR_IPC_CONNECT' });
    await expect(connect(socketPath, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
  });
});

describe('driver against a reference daemon (no extensions)', () => {
  /** A minimal reference-like daemon: answers Info, and Hello with `helloReply` (or not at all). */
  async function referenceDaemon(helloReply: 'error' | 'ignore' | 'late'): Promise<string> {
    const socketPath = tempSocketPath();
    const server = createServer((sock) => {
      const dec = new FrameDecoder();
      // 'late': HelloOK comes 150 ms after Hello, and (replies in request order) Info only after it.
      let helloSent: Promise<void> = Promise.resolve();
      sock.on('data', (chunk: Buffer) => {
        dec.push(chunk);
        let m: Buffer | null;
        while ((m = dec.next()) !== null) {
          if (m[0] === 0x0d) {
            const info = frame(encodeMessage({ type: 'infoOK', json: { address: '3:0003.0000.0007' } }));
            void helloSent.then(() => sock.write(info));
          } else if (m[0] === 0x30 && helloReply === 'error') {
            sock.write(frame(encodeMessage({ type: 'error', status: 1, text: 'unknown command' })));
          } else if (m[0] === 0x30 && helloReply === 'late') {
            const ok = encodeMessage({ type: 'helloOK', version: 1, window: 65536, addr: makeAddr(3, 7) });
            helloSent = new Promise((r) => setTimeout(() => r(void sock.write(frame(ok))), 150));
          }
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    return socketPath;
  }

  it('falls back at once when Hello is answered with an Error', async () => {
    const path = await referenceDaemon('error');
    const d = await connect(path);
    onTestFinished(() => d.close());
    expect(d.extended).toBe(false);
    expect(d.addr).toEqual(makeAddr(3, 7));
  });

  it('adopts the extensions when a slow daemon accepts Hello after the timeout (before connect returns)', async () => {
    const path = await referenceDaemon('late');
    const d = await connect(path, { helloTimeoutMs: 100 });
    onTestFinished(() => d.close());
    expect(d.extended).toBe(true);
    expect(d.addr).toEqual(makeAddr(3, 7));
  });

  it('falls back after the Hello timeout when the daemon ignores it', async () => {
    const path = await referenceDaemon('ignore');
    const t0 = Date.now();
    const d = await connect(path, { helloTimeoutMs: 100 });
    onTestFinished(() => d.close());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(d.extended).toBe(false);
    expect(d.addr).toEqual(makeAddr(3, 7));
    await expect(d.info()).resolves.toEqual({ address: '3:0003.0000.0007' });
  });
});
