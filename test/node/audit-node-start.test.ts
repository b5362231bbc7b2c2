/**
 * Audit: createNode / createStaticNode failing half-way must release what they opened, and Info must not
 * claim a hostname the registry refused.
 */
import { createSocket } from 'node:dgram';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createIpcServer } from '../../src/ipc/index.js';
import { createNode } from '../../src/node/node.js';
import { createNodeControl } from '../../src/node/node-control.js';
import { createStaticNode } from '../../src/node/static-node.js';
import { startRegistry } from '../../src/registry/index.js';

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pilot-audit-node-'));
  onTestFinished(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Bind a UDP socket on 127.0.0.1:port; resolves true when the port was free. */
function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('audit: createNode failing after registration', () => {
  it('a start that fails on a busy IPC socket does not leave the node registered holding its hostname', async () => {
    const dir = tempDir();
    const reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
    onTestFinished(() => reg.close());
    const { port } = reg.address as { host: string; port: number };
    const registry = `127.0.0.1:${port}`;

    // A live daemon already answers on the socket path.
    const sock = join(dir, 'busy.sock');
    const holder = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'h'),
      socket: sock,
      registry,
      trustManager: false,
    });
    onTestFinished(() => holder.stop());

    const err = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'f'),
      socket: sock,
      registry,
      trustManager: false,
      hostname: 'wanted-name',
    }).catch((e: unknown) => e as { code?: string });
    expect(err).toMatchObject({ code: 'ERR_IPC_SOCKET_IN_USE' });

    // The failed node must not hold the hostname: a node started correctly right after can claim it.
    const ok = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'ok'),
      socket: join(dir, 'ok.sock'),
      registry,
      trustManager: false,
      hostname: 'wanted-name',
    });
    onTestFinished(() => ok.stop());
    const r = await ok.registry.resolveHostname('wanted-name');
    expect(r.node_id).toBe(ok.nodeId);
  });

  it('a start that fails on the IPC socket releases its tunnel port', async () => {
    const dir = tempDir();
    const reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
    onTestFinished(() => reg.close());
    const { port } = reg.address as { host: string; port: number };
    const sock = join(dir, 'busy.sock');
    await liveIpcServer(sock);
    const udp = await freeUdpPort();
    await expect(
      createNode({
        logger: silentLogger,
        dataDir: join(dir, 'f'),
        socket: sock,
        registry: `127.0.0.1:${port}`,
        listen: `127.0.0.1:${udp}`,
      }),
    ).rejects.toMatchObject({ code: 'ERR_IPC_SOCKET_IN_USE' });
    expect(await udpPortFree(udp)).toBe(true);
  });
});

/** Live child processes of this process (Linux /proc). */
/** An IPC server answering on `sock` (closed when the test finishes): the socket a second node must not take. */
async function liveIpcServer(sock: string): Promise<void> {
  const live = await createIpcServer({
    socketPath: sock,
    streams: {} as never,
    control: { onDatagram: () => () => {} } as never,
    logger: silentLogger,
  });
  onTestFinished(() => live.close());
}

function childPids(): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z') out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('audit: createNode with an unusable data directory', () => {
  it('rejects with a typed config error, not a bare fs error', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    await expect(
      createNode({
        logger: silentLogger,
        dataDir: join(dir, 'file', 'sub'),
        socket: join(dir, 'n.sock'),
        embeddedRegistry: '127.0.0.1:0',
        embeddedBeacon: '127.0.0.1:0',
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', details: { key: 'dataDir' } });
  });
});

describe('audit: createNode failing after its plugins started', () => {
  it.runIf(process.platform === 'linux')('stops the process plugins it started', async () => {
    const dir = tempDir();
    cpSync('test/fixtures/plugins/ok-process', join(dir, 'plugins', 'ok-process'), { recursive: true });
    cpSync('test/fixtures/plugins/_sdk', join(dir, 'plugins', '_sdk'), { recursive: true });
    const sock = join(dir, 'busy.sock');
    await liveIpcServer(sock);
    const before = childPids();
    await expect(
      createNode({
        logger: silentLogger,
        dataDir: join(dir, 'n'),
        socket: sock,
        embeddedRegistry: '127.0.0.1:0',
        embeddedBeacon: '127.0.0.1:0',
        pluginsDir: join(dir, 'plugins'),
      }),
    ).rejects.toMatchObject({ code: 'ERR_IPC_SOCKET_IN_USE' });
    const deadline = Date.now() + 5000;
    while (childPids().some((p) => !before.includes(p)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(childPids().filter((p) => !before.includes(p))).toEqual([]);
  });
});

describe('audit: Info hostname', () => {
  it('does not report a hostname the registry refused at start-up', async () => {
    const dir = tempDir();
    const reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
    onTestFinished(() => reg.close());
    const { port } = reg.address as { host: string; port: number };
    const registry = `127.0.0.1:${port}`;
    const first = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'a'),
      ipc: false,
      trustManager: false,
      registry,
      hostname: 'taken-name',
    });
    onTestFinished(() => first.stop());
    const second = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'b'),
      ipc: false,
      trustManager: false,
      registry,
      hostname: 'taken-name',
    });
    onTestFinished(() => second.stop());
    const info = await createNodeControl(second).info();
    expect(info.hostname).toBe('');
    expect((await createNodeControl(first).info()).hostname).toBe('taken-name');
  });
});

describe('audit: createStaticNode', () => {
  it('rejects a bad network without leaking its bound UDP socket', async () => {
    const udp = await freeUdpPort();
    await expect(createStaticNode({ nodeId: 1, network: 70_000, port: udp })).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_/),
    });
    expect(await udpPortFree(udp)).toBe(true);
  });

  it('close() twice is harmless', async () => {
    const n = await createStaticNode({ nodeId: 3 });
    const port = n.tunnel.address.port;
    await n.close();
    await expect(n.close()).resolves.toBeUndefined();
    expect(await udpPortFree(port)).toBe(true);
  });
});
