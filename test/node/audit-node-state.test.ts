/**
 * Audit: node state set through IPC control commands (hostname, visibility, tags) must survive a
 * re-registration (the registry lost the node's record), and stop() must be safe to call twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode } from '../../src/node/node.js';
import { createNodeControl } from '../../src/node/node-control.js';
import { RegistryClient, startRegistry } from '../../src/registry/index.js';
import { generateEd25519, ed25519Sign } from '../../src/transport/keys.js';
import { within } from '../helpers/wait.js';

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pilot-audit-node-'));
  onTestFinished(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A registry on a free port that a test can restart without its state on the same port. */
async function restartableRegistry(): Promise<{ port: number; restart: () => Promise<void> }> {
  let reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
  const { port } = reg.address as { host: string; port: number };
  onTestFinished(() => reg.close());
  return {
    port,
    restart: async () => {
      await reg.close();
      reg = await startRegistry({ addr: `127.0.0.1:${port}`, logger: silentLogger });
    },
  };
}

/** Options of a node on the registry at `port` that re-registers quickly (keepalive 150 ms). */
function nodeOn(port: number): Parameters<typeof createNode>[0] {
  return {
    logger: silentLogger,
    dataDir: join(tempDir(), 'n'),
    ipc: false,
    trustManager: false,
    registry: `127.0.0.1:${port}`,
    keepalive: 150,
  };
}

describe('audit: node state across re-registration', () => {
  it('restores the hostname, visibility and tags set through IPC after a re-registration', async () => {
    const registry = await restartableRegistry();
    const { port } = registry;
    const node = await createNode({
      ...nodeOn(port),
      hostname: 'first-name',
    });
    onTestFinished(() => node.stop());
    const control = createNodeControl(node);
    await control.setHostname('second-name');
    await control.setVisibility(true);
    await control.setTags(['alpha', 'beta']);

    // The registry restarts without its state: the node must re-register and restore what it had.
    await registry.restart();
    const sub = node.events.subscribe('node.reregistered');
    onTestFinished(() => sub.unsubscribe());
    await within(sub.next(), 8000, 'node.reregistered');

    const other = generateEd25519();
    const c = new RegistryClient({
      addr: `127.0.0.1:${port}`,
      signer: { publicKey: other.publicKey, sign: (m) => ed25519Sign(other, m) },
    });
    onTestFinished(() => c.close());
    // Tags are restored right after the re-registration event; poll the registry (bounded).
    let rec = await c.lookup(node.nodeId);
    for (let i = 0; i < 100 && !(rec.tags && rec.tags.length > 0); i++) {
      await new Promise((r) => setTimeout(r, 20));
      rec = await c.lookup(node.nodeId);
    }
    expect(rec.hostname).toBe('second-name');
    expect(rec.public).toBe(true);
    expect(rec.tags).toEqual(['alpha', 'beta']);
  });
});

describe('audit: re-registration under a new node ID', () => {
  it('a public node with tags adopts the new ID and restores its visibility and tags under it', async () => {
    const registry = await restartableRegistry();
    const { port } = registry;
    const node = await createNode({
      ...nodeOn(port),
      public: true,
    });
    onTestFinished(() => node.stop());
    const oldId = node.nodeId;
    await createNodeControl(node).setTags(['gamma']);

    // The registry restarts without its state and another node takes the old ID first.
    await registry.restart();
    const other = generateEd25519();
    const c = new RegistryClient({
      addr: `127.0.0.1:${port}`,
      signer: { publicKey: other.publicKey, sign: (m) => ed25519Sign(other, m) },
    });
    onTestFinished(() => c.close());
    expect((await c.register({ listenAddr: '127.0.0.1:9' })).node_id).toBe(oldId);

    const sub = node.events.subscribe('node.reregistered');
    onTestFinished(() => sub.unsubscribe());
    await within(sub.next(), 8000, 'node.reregistered');
    expect(node.nodeId).not.toBe(oldId);
    const rec = await c.lookup(node.nodeId);
    expect(rec.public).toBe(true);
    expect(rec.tags).toEqual(['gamma']);
  });
});

describe('audit: stop()', () => {
  it('can be called twice (concurrently and again after) without errors', async () => {
    const dir = tempDir();
    const node = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'n'),
      socket: join(dir, 'n.sock'),
      embeddedRegistry: '127.0.0.1:0',
      embeddedBeacon: '127.0.0.1:0',
    });
    const results = await within(
      Promise.allSettled([node.stop(), node.stop()]),
      10_000,
      'two concurrent stop() calls',
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    await expect(within(node.stop(), 5000, 'a third stop()')).resolves.toBeUndefined();
  });

  it('ends event subscriptions, so a for-await over node.events finishes after stop()', async () => {
    const dir = tempDir();
    const node = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'n'),
      ipc: false,
      embeddedRegistry: '127.0.0.1:0',
      embeddedBeacon: '127.0.0.1:0',
    });
    const sub = node.events.subscribe('node.*');
    const topics: string[] = [];
    const loop = (async () => {
      for await (const e of sub) topics.push(e.topic);
    })();
    await within(node.stop(), 5000, 'stop()');
    await within(loop, 2000, 'the subscription loop to end after stop()');
    expect(topics).toContain('node.deregistered');
  });
});
