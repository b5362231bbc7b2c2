/**
 * The IPC server seen byte by byte from a client that speaks only the reference protocol (what the reference
 * Go driver puts on the wire), plus misbehaving clients.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { addrToBytes, makeAddr } from '../../src/coreapi/addr.js';
import { connect } from '../../src/ipc/connect.js';
import { createMemoryNetwork, type MemoryStreams } from '../../src/runtime/memory-streams.js';
import { readAll } from '../compliance/streams-suite.js';
import { waitFor } from '../helpers/wait.js';
import { RawClient, startDaemon, type TestDaemon } from './helpers.js';

const NODE = makeAddr(1, 0x0a);
const PEER = makeAddr(1, 0x0b);
const hex = (h: string): Buffer => Buffer.from(h.replace(/\s/g, ''), 'hex');
const u16 = (v: number): string => v.toString(16).padStart(4, '0');
const u32 = (v: number): string => v.toString(16).padStart(8, '0');
const text = (s: string): string => Buffer.from(s).toString('hex');

async function setup(
  tapPorts: number[] = [],
): Promise<{ daemon: TestDaemon; peer: MemoryStreams; raw: RawClient }> {
  const net = createMemoryNetwork();
  const daemon = await startDaemon(net, NODE, { tapPorts });
  onTestFinished(async () => {
    await daemon.close();
    await net.close();
  });
  return { daemon, peer: net.node(PEER), raw: await RawClient.connect(daemon.socketPath) };
}

describe('IPC server, reference client on the wire', () => {
  it('Bind → BindOK, Accept (local port first), Recv, Send, EOF as CloseOK, Close → CloseOK + FIN', async () => {
    const { raw, peer } = await setup();
    raw.send('01 03e8');
    expect((await raw.next()).toString('hex')).toBe('0203e8');
    const remote = await peer.dial(NODE, 1000);
    const accept = await raw.next();
    const connId = accept.readUInt32BE(3);
    expect(accept.toString('hex')).toBe(
      `05 03e8 ${u32(connId)} ${addrToBytes(PEER).toString('hex')} ${u16(remote.localPort)}`.replace(
        /\s/g,
        '',
      ),
    );
    remote.write('hello');
    expect((await raw.next()).toString('hex')).toBe(`07${u32(connId)}${text('hello')}`);
    raw.send(`06 ${u32(connId)} ${text('world')}`);
    const [chunk] = (await once(remote, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('world');
    // Remote FIN → unsolicited CloseOK.
    remote.end();
    expect((await raw.next()).toString('hex')).toBe(`09${u32(connId)}`);
    // Our Close → CloseOK reply; the peer's stream finishes (FIN).
    const remoteEnded = readAll(remote);
    raw.send(`08 ${u32(connId)}`);
    expect((await raw.next()).toString('hex')).toBe(`09${u32(connId)}`);
    await remoteEnded;
  });

  it('Dial → DialOK; refused → Error code 1 "connection refused"; Send to an unknown conn → Error', async () => {
    const { raw, peer } = await setup();
    const l = await peer.listen(7);
    raw.send(`03 ${addrToBytes(PEER).toString('hex')} 0007`);
    const ok = await raw.next();
    expect(ok[0]).toBe(0x04);
    expect(ok.length).toBe(5);
    const s = await l.accept();
    // The peer resets: a reference client learns it as an unsolicited CloseOK.
    s.destroy();
    expect((await raw.next()).toString('hex')).toBe(`09${ok.subarray(1).toString('hex')}`);
    raw.send(`03 ${addrToBytes(PEER).toString('hex')} 0009`);
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text('connection refused')}`);
    raw.send(`06 000003e7 ${text('x')}`);
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text('connection 999 not found')}`);
  });

  it('answers in request order even when the daemon completes them out of order', async () => {
    const { raw, daemon } = await setup();
    let open!: () => void;
    daemon.control.gates.set('info', new Promise<void>((r) => (open = r)));
    raw.send('0d'); // Info (slow)
    raw.send('17'); // Deregister (fast)
    raw.send(`19 ${text('["a","b","c","d"]')}`); // SetTags (fails at once)
    raw.send(`1b ${text('http://h')}`); // SetWebhook
    await waitFor(() => daemon.control.calls.length >= 3, 2000, 'calls to reach the control');
    await expect(raw.next(100)).rejects.toThrow(/no message/);
    open();
    const m1 = await raw.next();
    expect(m1[0]).toBe(0x0e);
    expect(JSON.parse(m1.toString('utf8', 1))).toMatchObject({ address: '1:0001.0000.000A' });
    expect((await raw.next()).toString('hex')).toBe(`18${text('{}')}`);
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text('too many tags (max 3)')}`);
    expect((await raw.next()).toString('hex')).toBe(`1c${text('{"webhook":"http://h"}')}`);
  });

  it('delivers every datagram to a reference client as RecvFrom with the destination port', async () => {
    const { raw, peer } = await setup([6000, 6001]);
    await peer.sendDatagram(NODE, 6001, Buffer.from('a'));
    const m = await raw.next();
    expect(m[0]).toBe(0x0c);
    expect(m.subarray(1, 7).equals(addrToBytes(PEER))).toBe(true);
    expect(m.readUInt16BE(9)).toBe(6001);
    expect(m.subarray(11).toString()).toBe('a');
    await peer.sendDatagram(NODE, 6000, Buffer.from('b'));
    const m2 = await raw.next();
    expect(m2.readUInt16BE(9)).toBe(6000);
    // SendTo: no reply on success.
    const sock = await peer.bindDatagram(6100);
    raw.send(`0b ${addrToBytes(PEER).toString('hex')} ${u16(6100)} ${text('up')}`);
    expect((await sock.receive()).data.toString()).toBe('up');
    sock.close();
  });

  it('management commands: handshake sub-commands, visibility, hostname, task exec, resolve', async () => {
    const { raw, daemon } = await setup();
    raw.send(`0f 01 00000007 ${text('why')}`);
    expect(JSON.parse((await raw.next()).toString('utf8', 1))).toEqual({ status: 'sent', node_id: 7 });
    raw.send('0f 04');
    expect(JSON.parse((await raw.next()).toString('utf8', 1))).toMatchObject({ pending: [{ node_id: 9 }] });
    raw.send('0f 06 0000000a');
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text('node 10 is not trusted')}`);
    raw.send('15 01');
    const vis = await raw.next();
    expect(vis[0]).toBe(0x16);
    expect(JSON.parse(vis.toString('utf8', 1))).toMatchObject({ visibility: 'public' });
    raw.send(`13 ${text('delta')}`);
    expect((await raw.next())[0]).toBe(0x14);
    raw.send('1d 00');
    expect(JSON.parse((await raw.next()).toString('utf8', 1))).toMatchObject({ task_exec: false });
    raw.send(`11 ${text('alpha')}`);
    const res = await raw.next();
    expect(res[0]).toBe(0x12);
    expect(JSON.parse(res.toString('utf8', 1))).toMatchObject({ node_id: 42, hostname: 'alpha' });
    expect(daemon.control.calls.map((c) => c.op)).toEqual([
      'handshakeSend',
      'handshakePending',
      'handshakeRevoke',
      'setVisibility',
      'setHostname',
      'setTaskExec',
      'resolveHostname',
    ]);
  });

  it('Hello negotiates the extensions: HelloOK carries version, window and the node address', async () => {
    const { raw } = await setup();
    raw.send('30 01 00040000');
    expect((await raw.next()).toString('hex')).toBe(
      `31 01 00080000 ${addrToBytes(NODE).toString('hex')}`.replace(/\s/g, ''),
    );
    // Errors now carry their code (ErrorEx).
    raw.send(`03 ${addrToBytes(PEER).toString('hex')} 0009`);
    const e = await raw.next();
    expect(e.toString('hex')).toBe(
      `3f0001 16 ${text('ERR_CONNECTION_REFUSED')} ${text('connection refused')}`.replace(/\s/g, ''),
    );
  });

  it('answers unknown and [NEW]-only commands with an Error and keeps the client', async () => {
    const { raw } = await setup();
    raw.send('7f 0102');
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text('unknown command 0x7f')}`);
    raw.send('1f 01');
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text('unknown command Network')}`);
    raw.send('0d');
    expect((await raw.next())[0]).toBe(0x0e);
  });
});

describe('IPC server, misbehaving clients', () => {
  async function expectDropped(daemon: TestDaemon, send: (c: RawClient) => void): Promise<void> {
    const base = daemon.server.clientCount;
    const bad = await RawClient.connect(daemon.socketPath);
    const good = await connect(daemon.socketPath);
    onTestFinished(() => good.close());
    await waitFor(() => daemon.server.clientCount === base + 2, 2000, 'two more clients');
    send(bad);
    await bad.waitClosed();
    await waitFor(() => daemon.server.clientCount === base + 1, 2000, 'bad client dropped');
    // The server and the other client are unaffected.
    await expect(good.info()).resolves.toMatchObject({ node_id: NODE.node });
    const again = await RawClient.connect(daemon.socketPath);
    again.send('0d');
    expect((await again.next())[0]).toBe(0x0e);
  }

  it('an oversized frame header drops only that client (before any body arrives)', async () => {
    const { daemon } = await setup();
    await expectDropped(daemon, (c) => c.raw(hex('00100001 01')));
  });

  it('a zero-length frame drops only that client', async () => {
    const { daemon } = await setup();
    await expectDropped(daemon, (c) => c.raw(hex('00000000')));
  });

  it('a malformed payload drops only that client', async () => {
    const { daemon } = await setup();
    await expectDropped(daemon, (c) => c.send('01 03e8 00'));
  });

  it('invalid SetTags JSON drops only that client', async () => {
    const { daemon } = await setup();
    await expectDropped(daemon, (c) => c.send(`19 ${text('[nope')}`));
  });

  it('a daemon-only message (Recv) from a client drops it', async () => {
    const { daemon } = await setup();
    await expectDropped(daemon, (c) => c.send('07 00000001 00'));
  });

  it('survives random garbage from many clients', async () => {
    const { daemon } = await setup();
    const base = daemon.server.clientCount;
    const clients = await Promise.all(Array.from({ length: 8 }, () => RawClient.connect(daemon.socketPath)));
    for (let round = 0; round < 20; round++) {
      for (const c of clients) if (!c.closed) c.raw(randomBytes(1 + Math.floor(Math.random() * 64)));
    }
    for (const c of clients) c.socket.end();
    await waitFor(() => daemon.server.clientCount === base, 3000, 'garbage clients gone');
    const good = await connect(daemon.socketPath);
    onTestFinished(() => good.close());
    await expect(good.info()).resolves.toMatchObject({ node_id: NODE.node });
  });
});
