/**
 * After 3 failed heartbeats the node re-registers. A registry that lost its state (no store, restarted)
 * can hand out a different node ID; the node must adopt it (heartbeats are signed with it, the tunnel
 * introduces itself with it), or every later heartbeat fails for ever.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode } from '../../src/node/node.js';
import { RegistryClient, startRegistry } from '../../src/registry/index.js';
import { generateEd25519, ed25519Sign } from '../../src/transport/keys.js';
import { waitFor } from '../helpers/wait.js';

describe('re-registration with a new node ID', () => {
  it('the node adopts the ID the registry gives it on re-registration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-rereg-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    let reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
    const { port } = reg.address as { host: string; port: number };
    onTestFinished(() => reg.close());

    const node = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'n'),
      ipc: false,
      trustManager: false,
      registry: `127.0.0.1:${port}`,
      keepalive: 150,
    });
    onTestFinished(() => node.stop());
    const oldId = node.nodeId;

    // The registry restarts without its state; another node registers first and takes the old ID.
    await reg.close();
    reg = await startRegistry({ addr: `127.0.0.1:${port}`, logger: silentLogger });
    const other = generateEd25519();
    const c = new RegistryClient({
      addr: `127.0.0.1:${port}`,
      signer: { publicKey: other.publicKey, sign: (m) => ed25519Sign(other, m) },
    });
    onTestFinished(() => c.close());
    const taken = await c.register({ listenAddr: '127.0.0.1:9' });
    expect(taken.node_id).toBe(oldId);

    // Wait for the node's re-registration: the registry now knows its key under some ID.
    const sub = node.events.subscribe('node.reregistered');
    onTestFinished(() => sub.unsubscribe());
    const ev = (await Promise.race([
      sub.next(),
      new Promise((_, rej) => setTimeout(() => rej(new Error('no re-registration')), 8000)),
    ])) as { payload?: Record<string, unknown> } & Record<string, unknown>;
    const newId = Number((ev.payload ?? ev).node_id);
    expect(newId).not.toBe(oldId);
    // The node should now act as newId (heartbeats, tunnel PILA).
    await waitFor(() => node.nodeId === newId, 2000, `node.nodeId to become ${newId}`).catch((e: Error) => {
      throw new Error(`${e.message}; still ${node.nodeId}, tunnel ${node.tunnel.nodeId}`);
    });
    expect(node.tunnel.nodeId).toBe(newId);
    // Heartbeats under the new ID succeed: no further re-registration follows.
    const hb = await c.lookup(newId);
    expect(hb.node_id).toBe(newId);
  });
});
