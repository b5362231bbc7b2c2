import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode, type PilotNode, type NodeOptions } from '../../src/node/node.js';
import { connect } from '../../src/ipc/index.js';
import { aeadBackend } from '../../src/transport/native-aead.js';

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pilot-node-'));
  onTestFinished(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function startNode(opts: NodeOptions): Promise<PilotNode> {
  const n = await createNode({ logger: silentLogger, ...opts });
  onTestFinished(() => n.stop());
  return n;
}

describe('node composition', () => {
  it('runs an embedded registry, a second node joins it, and echo works across them', async () => {
    const d = tempDir();
    const a = await startNode({
      dataDir: join(d, 'a'),
      socket: join(d, 'a.sock'),
      embeddedRegistry: '127.0.0.1:0',
      embeddedBeacon: '127.0.0.1:0',
      public: true,
    });
    expect(a.embeddedRegistry).not.toBeNull();
    const b = await startNode({
      dataDir: join(d, 'b'),
      socket: join(d, 'b.sock'),
      registry: a.registryAddr,
      public: true,
    });
    expect(b.nodeId).not.toBe(a.nodeId);
    const s = await b.streams.dial(a.addr, 7);
    s.end('ping through echo');
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('ping through echo');

    const drv = await connect(join(d, 'b.sock'));
    onTestFinished(() => drv.close());
    const info = await drv.info();
    expect(info.node_id).toBe(b.nodeId);
    expect(info.peers).toBeGreaterThanOrEqual(1);
    // Which AES-GCM implementation carried the echo: the native addon whenever it is built.
    expect(info.aead).toBe(aeadBackend());
    expect(['native', 'node:crypto']).toContain(info.aead);
  });

  it('keeps its node ID across restarts with an identity file', async () => {
    const d = tempDir();
    const reg = await startNode({
      dataDir: join(d, 'r'),
      socket: join(d, 'r.sock'),
      embeddedRegistry: '127.0.0.1:0',
      embeddedBeacon: '127.0.0.1:0',
    });
    const opts = {
      dataDir: join(d, 'n'),
      socket: join(d, 'n.sock'),
      registry: reg.registryAddr,
      identity: join(d, 'n', 'identity.json'),
      hostname: 'restart-me',
    };
    const first = await createNode({ logger: silentLogger, ...opts });
    const id = first.nodeId;
    await first.stop();
    const second = await startNode(opts);
    expect(second.nodeId).toBe(id);
    const r = await second.registry.resolveHostname('restart-me');
    expect(r.node_id).toBe(id);
  });
});

describe('external plugins', () => {
  it('loads an ESM plugin from the plugins directory and serves it over the network', async () => {
    const d = tempDir();
    const { cpSync } = await import('node:fs');
    cpSync('test/fixtures/plugins/ok-esm', join(d, 'plugins', 'ok-esm'), { recursive: true });
    const a = await startNode({
      dataDir: join(d, 'a'),
      socket: join(d, 'a.sock'),
      embeddedRegistry: '127.0.0.1:0',
      embeddedBeacon: '127.0.0.1:0',
      pluginsDir: join(d, 'plugins'),
      plugins: { 'ok-esm': { port: 7070, prefix: 'hi:' } },
    });
    expect(a.services.get('ok-esm')?.state).toBe('running');
    const s = await a.streams.dial(a.addr, 7070);
    s.end('there');
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hi:there');
  });
});

describe('events', () => {
  it('publishes node, tunnel and connection events on the bus', async () => {
    const d = tempDir();
    const a = await startNode({
      dataDir: join(d, 'a'),
      socket: join(d, 'a.sock'),
      embeddedRegistry: '127.0.0.1:0',
      embeddedBeacon: '127.0.0.1:0',
      public: true,
    });
    const seen: string[] = [];
    const sub = a.events.subscribe('*');
    void (async () => {
      for await (const e of sub) seen.push(e.topic);
    })();
    onTestFinished(() => sub.unsubscribe());
    const b = await startNode({
      dataDir: join(d, 'b'),
      socket: join(d, 'b.sock'),
      registry: a.registryAddr,
      public: true,
    });
    const s = await b.streams.dial(a.addr, 7);
    s.end('x');
    for await (const _ of s) void _;
    const want = [
      'tunnel.peer_added',
      'tunnel.established',
      'conn.syn_received',
      'conn.established',
      'conn.fin',
    ];
    const deadline = Date.now() + 5000;
    while (!want.every((t) => seen.includes(t)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(want.filter((t) => !seen.includes(t))).toEqual([]);
  });
});
