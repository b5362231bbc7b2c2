/**
 * End to end: a registry and two real daemons on loopback (A started with `pilot daemon start`, B running in
 * the foreground as `pilot daemon`), driven by the `pilot` CLI with --json: info, ping, bench, send/recv,
 * data exchange, pub/sub, datagrams, directory operations, trust commands, disconnect, killed clients,
 * plugins, and a restart that keeps the node ID and hostname.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  createRegistry,
  silentLogger,
  type DaemonInfo,
  type RegistryServer,
} from '../../src/index.js';
import {
  baseEnv,
  cliBundle,
  errorEnvelope,
  okData,
  runCli,
  spawnCli,
  tempDir,
  until,
  type CliProcess,
  type CliResult,
  type RunOptions,
} from './helpers.js';

const tmp = tempDir('pilot-e2e-');
const tag = randomBytes(3).toString('hex');

interface Node {
  name: string;
  home: string;
  sock: string;
  identity: string;
  hostname: string;
  env: NodeJS.ProcessEnv;
  id: number;
  address: string;
}

function node(name: string): Node {
  const home = join(tmp.dir, name);
  const sock = join(tmp.dir, `${name}.sock`);
  return {
    name,
    home,
    sock,
    identity: join(tmp.dir, `${name}-identity.json`),
    hostname: `${name}-${tag}`,
    env: baseEnv({ PILOT_HOME: home, PILOT_SOCKET: sock }),
    id: 0,
    address: '',
  };
}

const A = node('alpha');
const B = node('beta');
let registry: RegistryServer;
let regAddr = '';
let bDaemon: CliProcess;

const on = (n: Node, args: string[], opts: RunOptions = {}): Promise<CliResult> =>
  runCli(args, { env: n.env, ...opts });
const json = <T = Record<string, unknown>>(n: Node, args: string[]): Promise<T> =>
  on(n, [...args, '--json']).then((r) => okData<T>(r));

async function info(n: Node): Promise<DaemonInfo> {
  const d = await connect(n.sock);
  try {
    return await d.info();
  } finally {
    await d.close();
  }
}

function daemonArgs(n: Node, extra: string[] = []): string[] {
  return [
    '--registry',
    regAddr,
    '--listen',
    '127.0.0.1:0',
    '--public',
    '--hostname',
    n.hostname,
    '--identity',
    n.identity,
    '--log-level',
    'warn',
    ...extra,
  ];
}

beforeAll(async () => {
  await cliBundle();
  registry = createRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false, logger: silentLogger });
  const a = await registry.listen();
  regAddr = `${a.host}:${a.port}`;
  const started = await json<{
    pid: number;
    node_id: number;
    address: string;
    hostname: string;
    socket: string;
    log_file: string;
  }>(A, ['daemon', 'start', ...daemonArgs(A)]);
  expect(started.hostname).toBe(A.hostname);
  expect(started.socket).toBe(A.sock);
  expect(started.log_file).toBe(join(A.home, 'pilot.log'));
  A.id = started.node_id;
  A.address = started.address;
  bDaemon = await spawnCli(['daemon', ...daemonArgs(B, ['--no-stdio']), '--json'], { env: B.env });
  const line = await bDaemon.waitFor(/^\{"status":"ok".*\}$/m);
  const ready = JSON.parse(line[0]) as {
    data: { node_id: number; address: string; socket: string; pid: number };
  };
  expect(ready.data.socket).toBe(B.sock);
  expect(ready.data.pid).toBe(bDaemon.pid);
  B.id = ready.data.node_id;
  B.address = ready.data.address;
});

afterAll(async () => {
  await on(A, ['daemon', 'stop']).catch(() => {});
  await bDaemon?.stop();
  await registry?.close();
  tmp.cleanup();
});

describe('pilot CLI against two daemons', () => {
  it('daemon status, info (json and text)', async () => {
    const st = await json<{
      running: boolean;
      responsive: boolean;
      pid: number;
      node_id: number;
      hostname: string;
    }>(A, ['daemon', 'status']);
    expect(st).toMatchObject({ running: true, responsive: true, node_id: A.id, hostname: A.hostname });
    expect(Number(readFileSync(join(A.home, 'pilot.pid'), 'utf8'))).toBe(st.pid);
    const check = await on(A, ['daemon', 'status', '--check']);
    expect(check.code).toBe(0);
    expect(check.stdout).toBe('');
    const i = await json<DaemonInfo>(B, ['info']);
    expect(i).toMatchObject({ node_id: B.id, address: B.address, hostname: B.hostname, identity: true });
    expect(typeof i.public_key).toBe('string');
    const text = await on(A, ['info']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^node_id:\\s+${A.id}$`, 'm'));
  });

  it('ping by hostname, node ID and address; peers and connections', async () => {
    const p = await json<{
      target: string;
      results: { seq: number; bytes: number; rtt_ms: number; error?: string }[];
      timeout: boolean;
    }>(A, ['ping', B.hostname, '--count', '3', '--interval', '50ms']);
    expect(p.target).toBe(B.address);
    expect(p.timeout).toBe(false);
    expect(p.results.map((r) => r.seq)).toEqual([1, 2, 3]);
    for (const r of p.results) {
      expect(r.error).toBeUndefined();
      expect(r.bytes).toBe('ping-1'.length);
      expect(r.rtt_ms).toBeGreaterThan(0);
    }
    expect(
      (await json<{ results: unknown[] }>(A, ['ping', String(B.id), '--count', '1'])).results,
    ).toHaveLength(1);
    const text = await on(A, ['ping', B.address, '--count', '1']);
    expect(text.stdout).toContain(`6 bytes from ${B.address}: seq=1`);
    const peers = await json<{ peers: { node_id: number; encrypted: boolean }[]; total: number }>(A, [
      'peers',
    ]);
    expect(peers.peers.find((x) => x.node_id === B.id)?.encrypted).toBe(true);
    expect((await json<{ total: number }>(A, ['peers', '--search', 'no-such-peer'])).total).toBe(0);
    const conns = await json<{ connections: { remote_addr: string; remote_port: number }[] }>(A, [
      'connections',
    ]);
    expect(conns.connections.some((c) => c.remote_addr === B.address && c.remote_port === 7)).toBe(true);
  });

  it('bench through echo', async () => {
    const r = await json<Record<string, number | string>>(A, ['bench', B.hostname, '1']);
    expect(r.target).toBe(B.address);
    expect(r.sent_bytes).toBe(1024 * 1024);
    expect(r.recv_bytes).toBe(1024 * 1024);
    expect(r.total_duration_ms).toBeGreaterThanOrEqual(r.send_duration_ms as number);
    expect(r.send_mbps).toBeGreaterThan(0);
    expect(r.total_mbps).toBeGreaterThan(0);
  });

  it('send to echo; recv on port 1000 gets connect --message and send', async () => {
    const echo = await json<{ target: string; port: number; sent: number; response: string }>(A, [
      'send',
      B.hostname,
      '7',
      '--data',
      'hello echo',
    ]);
    expect(echo).toEqual({ target: B.address, port: 7, sent: 10, response: 'hello echo' });

    const ports = (await info(B)).ports;
    const recv = await spawnCli(['recv', '1000', '--count', '2', '--timeout', '20s', '--json'], {
      env: B.env,
    });
    await until(async () => (await info(B)).ports > ports, 10_000, 'recv to listen');
    // Nobody answers on 1000: send waits for a reply and times out, but the message arrived.
    const s = await on(A, ['send', String(B.id), '1000', '--data', 'm1', '--timeout', '1s', '--json']);
    expect(errorEnvelope(s).code).toBe('timeout');
    // connect --message half-closes and reads until the other side closes: recv does once it has 2 messages.
    const c = await json<{ response: string; sent: number }>(A, [
      'connect',
      B.hostname,
      '1000',
      '--message',
      'm2',
    ]);
    expect(c).toMatchObject({ target: B.address, port: 1000, sent: 2, response: '' });
    const got = okData<{
      messages: { seq: number; port: number; from: string; data: string; bytes: number }[];
      timeout: boolean;
    }>(await recv.done);
    expect(got.timeout).toBe(false);
    expect(got.messages).toEqual([
      { seq: 1, port: 1000, from: A.address, data: 'm1', bytes: 2 },
      { seq: 2, port: 1000, from: A.address, data: 'm2', bytes: 2 },
    ]);
  });

  it('send-message (text, json, binary) lands in the remote inbox', async () => {
    const t = await json<{ target: string; type: string; bytes: number; ack: string }>(A, [
      'send-message',
      B.hostname,
      '--data',
      'hi there',
    ]);
    expect(t).toEqual({ target: B.address, type: 'text', bytes: 8, ack: 'ACK TEXT 8 bytes' });
    expect(
      (await json<{ ack: string }>(A, ['send-message', B.hostname, '--data', '{"a":1}', '--type', 'json']))
        .ack,
    ).toBe('ACK JSON 7 bytes');
    expect(
      (await json<{ ack: string }>(A, ['send-message', B.hostname, '--data', 'raw', '--type', 'binary'])).ack,
    ).toBe('ACK BINARY 3 bytes');
    const bad = await on(A, ['send-message', B.hostname, '--data', '{nope', '--type', 'json', '--json']);
    expect(errorEnvelope(bad).code).toBe('invalid_argument');
    const inbox = await json<{
      messages: { type: string; from: string; data: string; bytes: number }[];
      total: number;
    }>(B, ['inbox']);
    expect(inbox.total).toBe(3);
    expect(inbox.messages.map((m) => m.type).sort()).toEqual(['BINARY', 'JSON', 'TEXT']);
    expect(inbox.messages.every((m) => m.from === A.address)).toBe(true);
    expect(inbox.messages.find((m) => m.type === 'TEXT')?.data).toBe('hi there');
    expect(await json(B, ['inbox', '--clear'])).toEqual({ cleared: 3 });
    expect((await json<{ total: number }>(B, ['inbox'])).total).toBe(0);
  });

  it('send-file arrives intact (content hash) in the remote received/', async () => {
    const file = join(tmp.dir, 'payload.bin');
    const content = randomBytes(300_000);
    writeFileSync(file, content);
    const r = await json<{ filename: string; bytes: number; destination: string; ack: string }>(A, [
      'send-file',
      B.hostname,
      file,
    ]);
    expect(r).toEqual({
      filename: 'payload.bin',
      bytes: 300_000,
      destination: B.address,
      ack: 'ACK FILE 300000 bytes',
    });
    const rec = await json<{ files: { name: string; path: string; bytes: number }[]; total: number }>(B, [
      'received',
    ]);
    expect(rec.total).toBe(1);
    expect(rec.files[0].name).toMatch(/^payload-\d{8}-\d{6}\.\d{3}\.bin$/);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(sha(readFileSync(rec.files[0].path))).toBe(sha(content));
    expect(await json(B, ['received', '--clear'])).toEqual({ cleared: 1 });
    const missing = await on(A, ['send-file', B.hostname, join(tmp.dir, 'nope.bin'), '--json']);
    expect(errorEnvelope(missing).code).toBe('not_found');
  });

  it('trust: handshake, pending, approve, trust (the event stream serves trusted subscribers only)', async () => {
    const sent = await json<{ status: string; node_id: number }>(A, [
      'handshake',
      B.hostname,
      'pub/sub please',
    ]);
    expect(sent).toMatchObject({ status: 'sent', node_id: B.id });
    await until(
      async () =>
        (await json<{ pending: { node_id: number }[] }>(B, ['pending'])).pending.some(
          (p) => p.node_id === A.id,
        ),
      10_000,
      'B to see the pending request',
    );
    expect(await json(B, ['approve', String(A.id)])).toMatchObject({ status: 'approved', node_id: A.id });
    await until(
      async () =>
        (await json<{ trusted: { node_id: number }[] }>(A, ['trust'])).trusted.some(
          (t) => t.node_id === B.id,
        ),
      10_000,
      'A to trust B',
    );
    const bTrust = await json<{ trusted: { node_id: number; mutual: boolean }[] }>(B, ['trust']);
    expect(bTrust.trusted.find((t) => t.node_id === A.id)?.mutual).toBe(true);
  });

  it('pub/sub across the daemons: bounded result and unbounded NDJSON', async () => {
    const bounded = await spawnCli(
      ['subscribe', B.hostname, 'news', '--count', '2', '--timeout', '20s', '--json'],
      {
        env: A.env,
      },
    );
    const stream = await spawnCli(['subscribe', B.hostname, '*', '--json'], { env: A.env });
    await until(
      async () =>
        (await info(A)).conn_list.filter((c) => c.remote_port === 1002 && c.state === 'ESTABLISHED').length >=
        2,
      10_000,
      'two subscriptions',
    );
    // The broker may see a subscription a moment after the stream is up: publish until the bounded one is done.
    for (let i = 1; i <= 20 && !bounded.exited; i++) {
      const p = await json<{ target: string; topic: string; bytes: number }>(A, [
        'publish',
        B.hostname,
        'news',
        '--data',
        `e-${i}`,
      ]);
      expect(p).toEqual({ target: B.address, topic: 'news', bytes: `e-${i}`.length });
    }
    const got = okData<{ events: { topic: string; data: string; bytes: number }[]; timeout: boolean }>(
      await bounded.done,
    );
    expect(got.timeout).toBe(false);
    expect(got.events).toHaveLength(2);
    for (const e of got.events) {
      expect(e.topic).toBe('news');
      expect(e.data).toMatch(/^e-\d+$/);
      expect(e.bytes).toBe(e.data.length);
    }
    expect(Number(got.events[1].data.slice(2))).toBeGreaterThan(Number(got.events[0].data.slice(2)));
    await json(A, ['publish', B.hostname, 'other', '--data', 'x']);
    await until(
      async () => /"topic":"other"/.test(stream.stdout),
      10_000,
      'the * subscriber to see topic other',
    );
    const r = await stream.stop();
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { topic: string; data: string });
    expect(lines.some((l) => l.topic === 'other' && l.data === 'x')).toBe(true);
    expect(lines.every((l) => l.topic === 'news' || l.topic === 'other')).toBe(true);
  });

  it('datagrams: listen --count and send-datagram', async () => {
    const listener = await spawnCli(['listen', '5000', '--count', '2', '--timeout', '20s', '--json'], {
      env: B.env,
    });
    for (let i = 1; i <= 20 && !listener.exited; i++) {
      const s = await json<{ target: string; port: number; bytes: number }>(A, [
        'send-datagram',
        B.hostname,
        '5000',
        '--data',
        `d${i}`,
      ]);
      expect(s).toMatchObject({ target: B.address, port: 5000 });
      await new Promise((r) => setTimeout(r, 100));
    }
    const got = okData<{
      messages: { seq: number; src: string; port: number; data: string }[];
      timeout: boolean;
    }>(await listener.done);
    expect(got.timeout).toBe(false);
    expect(got.messages.map((m) => m.seq)).toEqual([1, 2]);
    for (const m of got.messages) {
      expect(m.src).toBe(A.address);
      expect(m.port).toBe(5000);
      expect(m.data).toMatch(/^d\d+$/);
    }
  });

  it('hostname, tags, visibility, find and lookup', async () => {
    const other = `renamed-${tag}`;
    expect(await json(A, ['set-hostname', other])).toMatchObject({ node_id: A.id, hostname: other });
    expect(await json(B, ['find', other])).toMatchObject({
      hostname: other,
      node_id: A.id,
      address: A.address,
    });
    const viaRegistry = await json<{ node_id: number; hostname: string; public: boolean }>(B, [
      'lookup',
      String(A.id),
      '--registry',
      regAddr,
    ]);
    expect(viaRegistry).toMatchObject({ node_id: A.id, address: A.address, hostname: other, public: true });
    // Without --registry, lookup asks the registry the running daemon uses.
    expect(await json(B, ['lookup', other])).toMatchObject({ node_id: A.id });
    expect(errorEnvelope(await on(B, ['lookup', '4000000', '--registry', regAddr, '--json'])).code).toBe(
      'not_found',
    );

    expect(await json(A, ['clear-hostname'])).toMatchObject({ node_id: A.id, hostname: '' });
    expect(errorEnvelope(await on(B, ['find', other, '--json'])).code).toBe('not_found');
    expect(errorEnvelope(await on(B, ['ping', other, '--json'])).code).toBe('not_found');
    expect(await json(A, ['set-hostname', A.hostname])).toMatchObject({ hostname: A.hostname });

    expect(await json(A, ['set-tags', 'gpu', 'eu'])).toMatchObject({ tags: ['gpu', 'eu'] });
    expect(errorEnvelope(await on(A, ['set-tags', 'a', 'b', 'c', 'd', '--json'])).code).toBe(
      'invalid_argument',
    );
    expect(await json(A, ['clear-tags'])).toMatchObject({ tags: [] });
    expect(await json(A, ['set-private'])).toMatchObject({ node_id: A.id });
    expect((await json<{ public: boolean }>(B, ['lookup', String(A.id), '--registry', regAddr])).public).toBe(
      false,
    );
    expect(await json(A, ['set-public'])).toMatchObject({ node_id: A.id });
  });

  it('trust commands answer, or report that the daemon does not implement them', async () => {
    const pending = await json<{ pending: unknown[]; total: number }>(A, ['pending']);
    expect(Array.isArray(pending.pending)).toBe(true);
    const trusted = await json<{ trusted: unknown[]; total: number }>(A, ['trust']);
    expect(trusted.total).toBe(trusted.trusted.length);
    const h = await on(A, ['handshake', B.hostname, 'testing', '--json']);
    if (h.code === 0) expect(okData(h)).toMatchObject({ status: 'sent' });
    else expect(errorEnvelope(h).code).toBe('unavailable');
  });

  it('disconnect closes an interactive connect session', async () => {
    const session = await spawnCli(['connect', B.hostname, '7'], { env: A.env });
    session.child.stdin?.write('abc\n');
    await session.waitFor(/abc/);
    const conn = await until(
      async () => (await info(A)).conn_list.find((c) => c.remote_port === 7 && c.state === 'ESTABLISHED'),
      5000,
      'the session connection',
    );
    expect(await json(A, ['disconnect', String(conn.id)])).toEqual({ conn_id: conn.id, disconnected: true });
    // The daemon resets the connection under the session, which reports it and exits 1.
    const r = await session.done;
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('abc\n');
    expect(r.stderr).toMatch(/^error: /m);
    expect(errorEnvelope(await on(A, ['disconnect', '4000000000', '--json'])).code).toBe('not_found');
  });

  it('a killed client frees its port and connections', async () => {
    const ports = (await info(B)).ports;
    const recv = await spawnCli(['recv', '2000', '--timeout', '30s'], { env: B.env });
    await until(async () => (await info(B)).ports > ports, 10_000, 'recv to listen');
    const busy = await on(B, ['recv', '2000', '--timeout', '200ms', '--json']);
    expect(errorEnvelope(busy).code).toBe('already_exists');
    recv.kill('SIGKILL');
    await recv.done;
    await until(async () => (await info(B)).ports === ports, 10_000, 'the port to be released');
    const again = await json<{ messages: unknown[]; timeout: boolean }>(B, [
      'recv',
      '2000',
      '--timeout',
      '200ms',
    ]);
    expect(again).toEqual({ messages: [], timeout: true });

    const session = await spawnCli(['connect', B.hostname, '7'], { env: A.env });
    session.child.stdin?.write('xyz\n');
    await session.waitFor(/xyz/);
    session.kill('SIGKILL');
    await session.done;
    await until(
      async () => !(await info(A)).conn_list.some((c) => c.remote_port === 7 && c.state === 'ESTABLISHED'),
      10_000,
      'the killed session connection to close',
    );
  });

  it('plugins list shows the running daemon’s services', async () => {
    const list = await json<{
      plugins: { name: string; running: boolean | null; state: string | null }[];
      daemon: boolean;
    }>(B, ['plugins', 'list']);
    expect(list.daemon).toBe(true);
    const by = new Map(list.plugins.map((p) => [p.name, p]));
    expect(by.get('echo')).toMatchObject({ running: true, state: 'running' });
    expect(by.get('stdio')).toMatchObject({ running: false, state: 'disabled' });
  });

  it('daemon stop, then a restart keeps the node ID and hostname', async () => {
    const again = await on(A, ['daemon', 'start', ...daemonArgs(A), '--json']);
    expect(errorEnvelope(again).code).toBe('already_exists');
    const stopped = await json<{ pid: number; forced: boolean }>(A, ['daemon', 'stop']);
    expect(stopped.forced).toBe(false);
    expect(existsSync(join(A.home, 'pilot.pid'))).toBe(false);
    expect(existsSync(A.sock)).toBe(false);
    expect((await json<{ running: boolean }>(A, ['daemon', 'status'])).running).toBe(false);
    const restarted = await json<{ pid: number; node_id: number; hostname: string }>(A, [
      'daemon',
      'start',
      ...daemonArgs(A),
    ]);
    expect(restarted.pid).not.toBe(stopped.pid);
    expect(restarted.node_id).toBe(A.id);
    expect(restarted.hostname).toBe(A.hostname);
    expect(await json(B, ['find', A.hostname])).toMatchObject({ node_id: A.id });
    // A dials first: B learns A's new tunnel endpoint from it (see the report on dials to a restarted peer).
    const p = await json<{ results: { error?: string }[] }>(A, ['ping', B.hostname, '--count', '1']);
    expect(p.results[0].error).toBeUndefined();
    const back = await json<{ results: { error?: string }[] }>(B, ['ping', A.hostname, '--count', '1']);
    expect(back.results[0].error).toBeUndefined();
  });

  it('the foreground daemon stops cleanly on SIGTERM', async () => {
    const r = await bDaemon.stop();
    expect(r.code).toBe(0);
    expect(existsSync(B.sock)).toBe(false);
    expect(errorEnvelope(await on(B, ['info', '--json'])).code).toBe('not_running');
  });
});
