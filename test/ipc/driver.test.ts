/**
 * Driver ↔ server over a real Unix socket; the daemon's Streams is a node of the in-memory network and the
 * far end of every connection is another in-memory node (a peer that does not use IPC).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { IPC_DEFAULT_WINDOW, IPC_MAX_DATA } from '../../src/ipc/constants.js';
import { connect } from '../../src/ipc/connect.js';
import type { ConnectOptions, Driver } from '../../src/ipc/driver.js';
import { createMemoryNetwork, type MemoryStreams } from '../../src/runtime/memory-streams.js';
import { closeError, readAll } from '../compliance/streams-suite.js';
import { waitFor } from '../helpers/wait.js';
import { startDaemon, type TestDaemon } from './helpers.js';

const NODE = makeAddr(1, 0x0a);
const PEER = makeAddr(1, 0x0b);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Env {
  daemon: TestDaemon;
  peer: MemoryStreams;
  driver: Driver;
  connectDriver(options?: ConnectOptions): Promise<Driver>;
}

async function setup(options: ConnectOptions = {}, tapPorts: number[] = []): Promise<Env> {
  const net = createMemoryNetwork();
  const daemon = await startDaemon(net, NODE, { tapPorts });
  const peer = net.node(PEER);
  const drivers: Driver[] = [];
  const connectDriver = async (o: ConnectOptions = options): Promise<Driver> => {
    const d = await connect(daemon.socketPath, o);
    drivers.push(d);
    return d;
  };
  onTestFinished(async () => {
    await Promise.all(drivers.map((d) => d.close()));
    await daemon.close();
    await net.close();
  });
  return { daemon, peer, driver: await connectDriver(), connectDriver };
}

/** A peer echo server on `port`; resolves with its listener. */
async function peerEcho(peer: MemoryStreams, port: number): Promise<void> {
  const l = await peer.listen(port);
  void (async () => {
    for await (const s of l) {
      s.on('error', () => {});
      s.pipe(s);
    }
  })();
}

describe('driver over IPC (pilot extensions)', () => {
  it('negotiates the extensions and learns the node address', async () => {
    const { driver } = await setup();
    expect(driver.extended).toBe(true);
    expect(driver.addr).toEqual(NODE);
    expect(driver.connected).toBe(true);
  });

  it('dials a peer and echoes; stream addresses and ports are right', async () => {
    const { driver, peer } = await setup();
    await peerEcho(peer, 7);
    const s = await driver.dial(PEER, 7);
    expect(s.remoteAddr).toEqual(PEER);
    expect(s.remotePort).toBe(7);
    expect(s.localAddr).toEqual(NODE);
    expect(s.localPort).toBeGreaterThanOrEqual(49152);
    s.end('ping over ipc');
    expect((await readAll(s)).toString()).toBe('ping over ipc');
  });

  it('listens and accepts a peer connection (Accept carries local port, remote addr and port)', async () => {
    const { driver, peer } = await setup();
    const l = await driver.listen(1000);
    const [remote, s] = await Promise.all([peer.dial(NODE, 1000), l.accept()]);
    expect(s.localPort).toBe(1000);
    expect(s.remoteAddr).toEqual(PEER);
    expect(s.remotePort).toBe(remote.localPort);
    expect(Number.isInteger(s.id) && s.id > 0).toBe(true);
    remote.end('from peer');
    expect((await readAll(s)).toString()).toBe('from peer');
    await l.close();
  });

  it('half-close: end() sends FIN, the reply still arrives', async () => {
    const { driver, peer } = await setup();
    const l = await peer.listen(2000);
    const served = (async () => {
      const s = await l.accept();
      const req = await readAll(s);
      s.end(Buffer.concat([Buffer.from('got:'), req]));
    })();
    const s = await driver.dial(PEER, 2000);
    const finished = once(s, 'finish');
    s.end('question');
    await finished;
    expect(s.writableFinished).toBe(true);
    expect((await readAll(s)).toString()).toBe('got:question');
    await served;
  });

  it('carries 4 MiB each way intact (hashed), with writes larger than one IPC message', async () => {
    const { driver, peer } = await setup();
    await peerEcho(peer, 7);
    const s = await driver.dial(PEER, 7);
    const data = randomBytes(4 * 1024 * 1024);
    const echoed = readAll(s);
    // One 3 MiB write (split into several Send messages) plus the rest.
    s.write(data.subarray(0, 3 * 1024 * 1024));
    s.end(data.subarray(3 * 1024 * 1024));
    const back = await echoed;
    expect(back.length).toBe(data.length);
    expect(sha(back)).toBe(sha(data));
    expect(s.stats().bytesSent).toBe(data.length);
    expect(s.stats().bytesRecv).toBe(data.length);
  });

  it('small writes made in one tick go to the daemon as few Send messages, in order and intact', async () => {
    const { driver, peer } = await setup();
    await peerEcho(peer, 7);
    const s = await driver.dial(PEER, 7);
    const pieces = Array.from({ length: 100 }, (_, i) => Buffer.alloc(4096, i));
    const echoed = readAll(s);
    for (const p of pieces) s.write(p); // 400 KiB in one tick, within the flow-control window
    s.end();
    const back = await echoed;
    expect(sha(back)).toBe(sha(Buffer.concat(pieces)));
    // Gathered into messages of at most 64 KiB: 7 instead of 100.
    expect(s.stats().segsSent).toBeLessThanOrEqual(8);
    expect(s.stats().segsSent).toBeGreaterThanOrEqual(7);
  });

  it('a write is not held back waiting for more: one small write is echoed on its own', async () => {
    const { driver, peer } = await setup();
    await peerEcho(peer, 7);
    const s = await driver.dial(PEER, 7);
    s.write('lone');
    const [chunk] = (await once(s, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('lone');
    s.destroy();
  });

  it('end() with small data then destroy() in the same tick still delivers all the data and a clean end', async () => {
    const { driver, peer } = await setup();
    const l = await peer.listen(3300);
    const s = await driver.dial(PEER, 3300);
    const remote = await l.accept();
    const received = readAll(remote);
    s.write('first ');
    s.end('and last');
    s.destroy();
    // Every byte arrives and then end-of-stream (a Reset would have errored the read instead).
    expect((await received).toString()).toBe('first and last');
  });

  it('backpressure: a slow reader holds back the peer, buffers stay bounded, other streams keep flowing', async () => {
    const { driver, peer } = await setup();
    await peerEcho(peer, 7);
    const l = await peer.listen(3000);
    const s = await driver.dial(PEER, 3000);
    const remote = await l.accept();
    const total = 16 * 1024 * 1024;
    const data = randomBytes(total);
    let written = 0;
    let blocked = false;
    // The peer writes until its stream reports backpressure.
    const writer = (async () => {
      const chunk = 64 * 1024;
      for (written = 0; written < total; written += chunk) {
        if (!remote.write(data.subarray(written, written + chunk))) {
          blocked = true;
          await once(remote, 'drain');
        }
      }
      remote.end();
    })();
    await waitFor(() => blocked, 5000, 'peer backpressure');
    // Let whatever can flow, flow; then check nothing grows without bound while nobody reads.
    await waitFor(() => s.readableLength > 0, 5000, 'data at the driver');
    const before = written;
    await new Promise((r) => setTimeout(r, 100));
    expect(written - before).toBeLessThan(4 * 1024 * 1024);
    expect(written).toBeLessThan(total);
    expect(s.readableLength).toBeLessThanOrEqual(IPC_DEFAULT_WINDOW + IPC_MAX_DATA + 64 * 1024);
    // Another stream on the same driver is not blocked by the stalled one.
    const e = await driver.dial(PEER, 7);
    e.end('still flowing');
    expect((await readAll(e)).toString()).toBe('still flowing');
    // Now read: everything arrives intact.
    const got = await readAll(s);
    await writer;
    expect(sha(got)).toBe(sha(data));
  });

  it('backpressure on writes: the driver holds writes while the peer does not read', async () => {
    const { driver, peer } = await setup();
    const l = await peer.listen(3100);
    const s = await driver.dial(PEER, 3100);
    const remote = await l.accept();
    remote.on('error', () => {});
    const chunk = randomBytes(256 * 1024);
    let blockedAt = -1;
    for (let i = 0; i < 64; i++) {
      if (!s.write(chunk)) {
        blockedAt = i;
        break;
      }
    }
    expect(blockedAt).toBeGreaterThanOrEqual(0);
    // The write side is flow-controlled: not everything has been handed to the daemon.
    await waitFor(() => s.stats().inFlight > 0, 2000, 'in-flight data');
    let drained = false;
    s.once('drain', () => (drained = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(drained).toBe(false);
    expect(s.stats().inFlight).toBeLessThanOrEqual(IPC_DEFAULT_WINDOW + IPC_MAX_DATA);
    // Reading on the peer releases it.
    remote.resume();
    await once(s, 'drain');
    expect(drained).toBe(true);
    s.destroy();
  });

  it('end() then destroy(): a clean end when all data reached the daemon, a reset when some was discarded', async () => {
    const { driver, peer } = await setup();
    const l = await peer.listen(3200);
    const s = await driver.dial(PEER, 3200);
    const remote = await l.accept();
    const received = readAll(remote);
    const data = randomBytes(100 * 1024); // within the flow-control window: handed over at once
    s.end(data);
    s.destroy();
    expect(sha(await received)).toBe(sha(data));

    const s2 = await driver.dial(PEER, 3200);
    const remote2 = await l.accept();
    const closed2 = closeError(remote2);
    remote2.resume();
    s2.end(randomBytes(8 * 1024 * 1024)); // more than the window: part of it never leaves the driver
    s2.destroy();
    expect((await closed2)?.code).toBe('ERR_CONNECTION_RESET');
  });

  it('destroy() resets the peer; a peer reset errors the driver stream with ERR_CONNECTION_RESET', async () => {
    const { driver, peer } = await setup();
    const l = await peer.listen(4000);
    const s1 = await driver.dial(PEER, 4000);
    const r1 = await l.accept();
    const r1Closed = closeError(r1);
    r1.resume();
    s1.destroy();
    expect((await r1Closed)?.code).toBe('ERR_CONNECTION_RESET');

    const s2 = await driver.dial(PEER, 4000);
    const r2 = await l.accept();
    const s2Closed = closeError(s2);
    s2.resume();
    r2.destroy();
    expect((await s2Closed)?.code).toBe('ERR_CONNECTION_RESET');
  });

  it('maps dial errors: refused, timeout (daemon-side timeout), abort, invalid arguments', async () => {
    const { driver } = await setup();
    await expect(driver.dial(PEER, 9)).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
    const nobody = makeAddr(1, 0x99);
    await expect(driver.dial(nobody, 9, { timeoutMs: 30 })).rejects.toMatchObject({
      code: 'ERR_DIAL_TIMEOUT',
    });
    const ac = new AbortController();
    const p = driver.dial(nobody, 9, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await expect(driver.dial(PEER, 65536)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(driver.dial({ network: 70000, node: 1 }, 7)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
    });
    await expect(driver.dial(PEER, 7, { timeoutMs: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    // The driver is still usable afterwards.
    await expect(driver.info()).resolves.toMatchObject({ node_id: NODE.node });
  });

  it('listen: port in use at the daemon and in the driver; close releases the port', async () => {
    const { driver, peer, connectDriver } = await setup();
    const other = await connectDriver();
    const l = await driver.listen(5000);
    await expect(driver.listen(5000)).rejects.toMatchObject({ code: 'ERR_PORT_IN_USE' });
    await expect(other.listen(5000)).rejects.toMatchObject({ code: 'ERR_PORT_IN_USE' });
    await l.close();
    const l2 = await other.listen(5000);
    const [remote, s] = await Promise.all([peer.dial(NODE, 5000), l2.accept()]);
    remote.on('error', () => {});
    expect(s.localPort).toBe(5000);
    s.destroy();
  });

  it('datagrams: sends to a peer, receives only for bound ports, refuses oversized payloads', async () => {
    const { driver, peer } = await setup({}, [6000, 6001]);
    const peerSock = await peer.bindDatagram(6100);
    await driver.sendDatagram(PEER, 6100, Buffer.from('to-peer'));
    const d1 = await peerSock.receive();
    expect(d1.data.toString()).toBe('to-peer');
    expect(d1.src).toEqual(NODE);

    const sock = await driver.bindDatagram(6000);
    await expect(driver.bindDatagram(6000)).rejects.toMatchObject({ code: 'ERR_PORT_IN_USE' });
    await peer.sendDatagram(NODE, 6001, Buffer.from('not-for-6000'));
    await peer.sendDatagram(NODE, 6000, Buffer.from('for-6000'));
    const d2 = await sock.receive();
    expect(d2.data.toString()).toBe('for-6000');
    expect(d2.src).toEqual(PEER);
    expect(d2.dstPort).toBe(6000);
    expect(d2.srcPort).toBeGreaterThanOrEqual(49152);
    await expect(driver.sendDatagram(PEER, 6100, Buffer.alloc(2 * 1024 * 1024))).rejects.toMatchObject({
      code: 'ERR_DATAGRAM_TOO_LARGE',
    });
    // The daemon's own limit comes back typed through the confirmation.
    await expect(driver.sendDatagram(PEER, 6100, Buffer.alloc(70_000))).rejects.toMatchObject({
      code: 'ERR_DATAGRAM_TOO_LARGE',
    });
    sock.close();
    peerSock.close();
  });

  it('management calls go to DaemonControl and return its JSON; errors keep their codes', async () => {
    const { driver, daemon } = await setup();
    const info = await driver.info();
    expect(info.address).toBe('1:0001.0000.000A');
    expect(info.conn_list).toEqual([]);
    await expect(driver.resolveHostname('alpha')).resolves.toMatchObject({ node_id: 42 });
    await expect(driver.resolveHostname('nope')).rejects.toMatchObject({ code: 'ERR_HOSTNAME_NOT_FOUND' });
    await expect(driver.setHostname('beta')).resolves.toEqual({ node_id: NODE.node, hostname: 'beta' });
    await expect(driver.setVisibility(true)).resolves.toMatchObject({ visibility: 'public' });
    await expect(driver.setTaskExec(true)).resolves.toMatchObject({ task_exec: true });
    await expect(driver.setWebhook('http://127.0.0.1:1/hook')).resolves.toEqual({
      webhook: 'http://127.0.0.1:1/hook',
    });
    await expect(driver.setTags(['a', 'b', 'c'])).resolves.toMatchObject({ tags: ['a', 'b', 'c'] });
    await expect(driver.setTags(['a', 'b', 'c', 'd'])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(driver.deregister()).resolves.toEqual({});
    await expect(driver.handshake(9, 'let me in')).resolves.toEqual({ status: 'sent', node_id: 9 });
    await expect(driver.approveHandshake(9)).resolves.toMatchObject({ status: 'approved' });
    await expect(driver.rejectHandshake(9, 'no')).resolves.toMatchObject({ status: 'rejected' });
    await expect(driver.pendingHandshakes()).resolves.toMatchObject({ pending: [{ node_id: 9 }] });
    await expect(driver.trustedPeers()).resolves.toMatchObject({ trusted: [{ node_id: 9, mutual: true }] });
    await expect(driver.revokeTrust(9)).resolves.toMatchObject({ status: 'revoked' });
    await expect(driver.revokeTrust(10)).rejects.toMatchObject({ code: 'ERR_NOT_TRUSTED' });
    const ops = daemon.control.calls.map((c) => c.op);
    expect(ops).toContain('handshakeReject');
    expect(daemon.control.calls.find((c) => c.op === 'handshakeSend')?.args).toEqual([9, 'let me in']);
    expect(daemon.control.calls.find((c) => c.op === 'handshakeReject')?.args).toEqual([9, 'no']);
    expect(daemon.control.calls.filter((c) => c.op === 'setTags')).toHaveLength(1);
  });

  it('disconnect(connId): own streams, other connections via DaemonControl, unknown ids rejected', async () => {
    const { driver, peer, daemon } = await setup();
    const l = await peer.listen(7000);
    const s = await driver.dial(PEER, 7000);
    const remote = await l.accept();
    const remoteEnd = readAll(remote);
    await driver.disconnect(s.id);
    await remoteEnd; // the peer saw FIN
    expect(s.destroyed).toBe(true);
    daemon.control.closeable.add(777);
    await driver.disconnect(777);
    await expect(driver.disconnect(778)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(daemon.control.calls.filter((c) => c.op === 'closeConnection').map((c) => c.args[0])).toEqual([
      777, 778,
    ]);
  });

  it('replies to concurrent requests reach the right callers even when the daemon answers out of order', async () => {
    const { driver, daemon } = await setup();
    let open!: () => void;
    daemon.control.gates.set('info', new Promise<void>((r) => (open = r)));
    const order: string[] = [];
    const settle = (name: string, p: Promise<unknown>) =>
      p.then(
        (v) => (order.push(name), v),
        (e: unknown) => (order.push(name), Promise.reject(e)),
      );
    const info = settle('info', driver.info());
    const host = settle('host', driver.setHostname('gamma'));
    const tags = expect(settle('tags', driver.setTags(['1', '2', '3', '4']))).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
    });
    const trusted = settle('trusted', driver.trustedPeers());
    // A dial (its own tagged reply) is not held back by the slow Info.
    await expect(driver.dial(PEER, 1)).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
    expect(order).toEqual([]);
    open();
    await expect(info).resolves.toMatchObject({ node_id: NODE.node, address: '1:0001.0000.000A' });
    await expect(host).resolves.toEqual({ node_id: NODE.node, hostname: 'gamma' });
    await tags;
    await expect(trusted).resolves.toMatchObject({ trusted: [{ node_id: 9 }] });
    // Nothing was answered before the slow Info (replies are written in request order: see raw tests).
    expect(order.sort()).toEqual(['host', 'info', 'tags', 'trusted']);
  });

  it('oversized requests and replies fail cleanly and later calls still match', async () => {
    const { driver, daemon } = await setup();
    await expect(driver.setHostname('x'.repeat(2 * 1024 * 1024))).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
    });
    daemon.control.infoExtra = { blob: 'y'.repeat(1024 * 1024 + 10) };
    await expect(driver.info()).rejects.toMatchObject({ code: 'ERR_IPC_MALFORMED' });
    daemon.control.infoExtra = {};
    await expect(driver.setHostname('ok')).resolves.toMatchObject({ hostname: 'ok' });
    await expect(driver.info()).resolves.toMatchObject({ hostname: 'ok' });
  });

  it('serves many clients at once', async () => {
    const { peer, connectDriver } = await setup();
    await peerEcho(peer, 7);
    const results = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const d = await connectDriver();
        const s = await d.dial(PEER, 7);
        const payload = Buffer.alloc(10_000 + i, i);
        s.end(payload);
        const back = await readAll(s);
        const info = await d.info();
        return back.equals(payload) && info.node_id === NODE.node;
      }),
    );
    expect(results.every(Boolean)).toBe(true);
  });
});

describe('driver over IPC (reference protocol only)', () => {
  it('falls back to the reference protocol and still dials, echoes, listens and closes', async () => {
    const { driver, peer } = await setup({ extensions: false });
    expect(driver.extended).toBe(false);
    expect(driver.addr).toEqual(NODE); // learned from Info
    await peerEcho(peer, 7);
    const s = await driver.dial(PEER, 7);
    expect(s.remotePort).toBe(7);
    const data = randomBytes(2 * 1024 * 1024 + 17); // larger than one IPC message
    s.write(data);
    let got = Buffer.alloc(0);
    s.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
    await waitFor(() => got.length === data.length, 10_000, 'echo');
    expect(sha(got)).toBe(sha(data));
    // end() sends Close (the reference has no half-close): the peer sees end-of-stream.
    s.end();
    await once(s, 'finish');

    const l = await driver.listen(1000);
    const [remote, acc] = await Promise.all([peer.dial(NODE, 1000), l.accept()]);
    expect(acc.localPort).toBe(1000);
    const remoteDone = readAll(remote);
    acc.end('bye');
    expect((await remoteDone).toString()).toBe('bye');
  });

  it('a slow reader pauses the socket (reference backpressure) and everything arrives once it reads', async () => {
    const { driver, peer } = await setup({ extensions: false });
    const l = await peer.listen(3300);
    const s = await driver.dial(PEER, 3300);
    const remote = await l.accept();
    const data = randomBytes(16 * 1024 * 1024);
    let blocked = false;
    const writer = (async () => {
      for (let off = 0; off < data.length; off += 64 * 1024) {
        if (!remote.write(data.subarray(off, off + 64 * 1024))) {
          blocked = true;
          await once(remote, 'drain');
        }
      }
      remote.end();
    })();
    await waitFor(() => blocked && s.readableLength > 0, 5000, 'backpressure');
    await new Promise((r) => setTimeout(r, 50));
    expect(s.readableLength).toBeLessThan(8 * 1024 * 1024);
    const got = await readAll(s);
    await writer;
    expect(sha(got)).toBe(sha(data));
  });

  it('maps reference error texts and receives every datagram, filtering by port itself', async () => {
    const { driver, peer } = await setup({ extensions: false }, [6000, 6001]);
    await expect(driver.dial(PEER, 9)).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
    await expect(driver.setTags(['a', 'b', 'c', 'd'])).rejects.toMatchObject({
      code: 'ERR_IPC_DAEMON',
      message: 'daemon: too many tags (max 3)',
    });
    const sock = await driver.bindDatagram(6000);
    await peer.sendDatagram(NODE, 6001, Buffer.from('other'));
    await peer.sendDatagram(NODE, 6000, Buffer.from('mine'));
    const d = await sock.receive();
    expect(d.data.toString()).toBe('mine');
    expect(d.dstPort).toBe(6000);
    // Fire-and-forget send.
    const peerSock = await peer.bindDatagram(6100);
    await driver.sendDatagram(PEER, 6100, Buffer.from('x'));
    expect((await peerSock.receive()).data.toString()).toBe('x');
    peerSock.close();
  });
});
