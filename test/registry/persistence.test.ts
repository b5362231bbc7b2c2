/**
 * Persistence (reference persistence_test / reregistration_test / hostname+tags persistence) and liveness:
 * restart restores everything; the file is the reference format; corrupt files are refused; saves are debounced
 * and atomic; snapshots are point-in-time while requests continue; reaping keeps identity-level data.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MemoryStore, startRegistry } from '../../src/registry/index.js';
import { RegistryState } from '../../src/registry/registry-state.js';
import { beginSnapshot, loadSnapshot } from '../../src/registry/state-codec.js';
import type { NodeJson } from '../../src/registry/snapshot-types.js';
import { clientFor, makeIdentity, registerNode, startTestRegistry, waitFor } from './helpers.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-registry-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('restart restores state', () => {
  it('nodes, keys, hostnames, tags, visibility, networks, trust, inboxes and counters survive', async () => {
    const dir = await tempDir();
    const store = join(dir, 'registry.json');
    const s1 = await startRegistry({ port: 0, store, adminToken: 'adm', registrationRateLimit: false });
    onTestFinished(() => s1.close());
    const a = await registerNode(s1, { hostname: 'alpha', owner: 'a@x', public: true, listenAddr: ':1234' });
    const b = await registerNode(s1);
    const gone = await registerNode(s1, { owner: 'gone@x' });
    await a.client.setTags(['gpu']);
    await a.client.setTaskExec(true);
    await a.client.setPoloScore(a.nodeId, 42);
    await a.client.reportTrust(b.nodeId);
    await b.client.requestHandshake(a.nodeId, 'hi');
    const { network_id: net } = await a.client.createNetwork({
      name: 'lab',
      adminToken: 'adm',
      joinRule: 'token',
      token: 'tk',
      nodeId: a.nodeId,
    });
    await b.client.joinNetwork(net, { token: 'tk' });
    await gone.client.deregister();
    const before = {
      a: s1.state.node(a.nodeId)?.toJson(),
      b: s1.state.node(b.nodeId)?.toJson(),
    };
    await s1.close();
    for (const c of [a.client, b.client, gone.client]) c.close();

    const text = await readFile(store, 'utf8');
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(
      expect.arrayContaining(['next_node', 'next_net', 'nodes', 'networks', 'trust_pairs', 'pub_key_idx']),
    );
    expect(parsed.trust_pairs).toEqual([`${a.nodeId}:${b.nodeId}`]);

    const s2 = await startTestRegistry({ store, adminToken: 'adm' });
    const strip = (j: NodeJson | undefined): unknown => ({ ...j, last_seen: undefined });
    expect(strip(s2.state.node(a.nodeId)?.toJson())).toEqual(strip(before.a));
    expect(strip(s2.state.node(b.nodeId)?.toJson())).toEqual(strip(before.b));
    const c = clientFor(s2, a.id);
    expect((await c.resolveHostname('alpha')).node_id).toBe(a.nodeId);
    expect((await c.register()).node_id).toBe(a.nodeId);
    expect(s2.state.hasTrust(a.nodeId, b.nodeId)).toBe(true);
    expect((await c.pollHandshakes()).requests).toEqual([
      expect.objectContaining({ from_node_id: b.nodeId }),
    ]);
    expect(s2.state.networks.get(net)).toMatchObject({ name: 'lab', joinRule: 'token', token: 'tk' });
    expect([...(s2.state.networks.get(net)?.members ?? [])].sort()).toEqual([a.nodeId, b.nodeId].sort());
    // The deregistered key gets its old ID back; owner recovery still works; counters continue.
    expect((await clientFor(s2, gone.id).register()).node_id).toBe(gone.nodeId);
    await clientFor(s2, gone.id).deregister({ nodeId: gone.nodeId });
    expect((await clientFor(s2, makeIdentity()).register({ owner: 'gone@x' })).node_id).toBe(gone.nodeId);
    expect((await clientFor(s2, makeIdentity()).register()).node_id).toBe(4);
    expect((await c.createNetwork({ name: 'second', adminToken: 'adm' })).network_id).toBe(net + 1);
  });

  it('refuses to start over a corrupt store and leaves it untouched; stray temp files are ignored', async () => {
    const dir = await tempDir();
    const store = join(dir, 'r.json');
    await writeFile(store, '{"nodes": {"1": ');
    await expect(startRegistry({ port: 0, store })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_STORE_CORRUPT',
    });
    expect(await readFile(store, 'utf8')).toBe('{"nodes": {"1": ');
    await writeFile(store, '[]');
    await expect(startRegistry({ port: 0, store })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_STORE_CORRUPT',
    });
    await rm(store);
    await writeFile(`${store}.tmp-1-1`, '{"half":');
    const s = await startTestRegistry({ store });
    await registerNode(s);
    await s.flush();
    expect(await readdir(dir)).toEqual(['r.json']);
    expect(JSON.parse(await readFile(store, 'utf8')).next_node).toBe(2);
  });

  it('loads a reference-format snapshot', async () => {
    const dir = await tempDir();
    const store = join(dir, 'v1.json');
    const key = makeIdentity();
    const v1 = {
      next_node: 8,
      next_net: 1,
      nodes: {
        '7': {
          id: 7,
          owner: 'o@x',
          public_key: key.publicKeyB64,
          real_addr: '1.2.3.4:4000',
          networks: [0],
          public: true,
          last_seen: '2026-01-01T00:00:00Z',
          hostname: 'seven',
          tags: ['x'],
          polo_score: 3,
        },
      },
      networks: {
        '0': { id: 0, name: 'backbone', join_rule: 'open', members: [7], created: '2026-01-01T00:00:00Z' },
      },
      trust_pairs: ['3:7'],
      pub_key_idx: { [key.publicKeyB64]: 7 },
      handshake_inbox: { '7': [{ from_node_id: 3, justification: 'j', timestamp: '2026-01-01T00:00:00Z' }] },
      handshake_responses: {},
    };
    await writeFile(store, JSON.stringify(v1));
    const s = await startTestRegistry({ store });
    const c = clientFor(s, key);
    expect(await c.lookup(7)).toMatchObject({ hostname: 'seven', real_addr: '1.2.3.4:4000', polo_score: 3 });
    expect((await c.register()).node_id).toBe(7);
    expect(s.state.hasTrust(3, 7)).toBe(true);
    expect((await c.pollHandshakes()).requests[0]).toMatchObject({ from_node_id: 3, timestamp: 1767225600 });
    expect((await clientFor(s, makeIdentity()).register()).node_id).toBe(8);
  });
});

describe('debounced saving', () => {
  it('coalesces a burst into few saves, and heartbeats alone do not write', async () => {
    const store = new MemoryStore();
    const server = await startTestRegistry({ store, saveDebounceMs: 100 });
    const nodes = await Promise.all(Array.from({ length: 20 }, () => registerNode(server)));
    await waitFor(() => store.data !== null && Object.keys(store.data.nodes).length === 20);
    expect(store.saves).toBeLessThanOrEqual(3);
    const saves = store.saves;
    for (const n of nodes) await n.client.heartbeat();
    await new Promise((r) => setTimeout(r, 250));
    expect(store.saves).toBe(saves);
    await nodes[0].client.setTags(['x']);
    await waitFor(() => store.saves === saves + 1);
  });

  it('saves on close', async () => {
    const store = new MemoryStore();
    const server = await startRegistry({
      port: 0,
      store,
      saveDebounceMs: 60_000,
      registrationRateLimit: false,
    });
    onTestFinished(() => server.close());
    const n = await registerNode(server);
    expect(store.saves).toBe(0);
    n.client.close();
    await server.close();
    expect(store.saves).toBe(1);
    expect(store.data?.nodes[String(n.nodeId)]?.public_key).toBe(n.id.publicKeyB64);
  });
});

describe('point-in-time snapshots', () => {
  it('changes made while a snapshot is being written do not leak into it', async () => {
    const state = new RegistryState();
    const keys = Array.from({ length: 10 }, () => makeIdentity().publicKeyB64);
    for (let i = 0; i < 10; i++) {
      const id = state.allocNodeId() as number;
      const rec = state.createNode(id, keys[i]);
      state.setHostname(rec, `n${id}`);
    }
    const src = beginSnapshot(state, 3);
    const got: NodeJson[] = [];
    let step = 0;
    for await (const batch of src.nodeBatches()) {
      got.push(...batch);
      if (step === 0) {
        // Mutate a node already written, one not yet written, remove one, and recreate one with a new key.
        state.edit(state.node(2) as never);
        (state.node(2) as { tags: string[] }).tags = ['late'];
        state.setHostname(state.node(8) as never, 'renamed');
        state.removeNode(state.node(9) as never);
        state.removeNode(state.node(10) as never);
        state.createNode(10, makeIdentity().publicKeyB64);
        state.createNode(state.allocNodeId() as number, makeIdentity().publicKeyB64);
      }
      step++;
    }
    state.endSaveEpoch();
    expect(got.map((n) => n.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(got.find((n) => n.id === 8)?.hostname).toBe('n8');
    expect(got.find((n) => n.id === 9)?.hostname).toBe('n9');
    expect(got.find((n) => n.id === 10)?.public_key).toBe(keys[9]);
    expect(got.find((n) => n.id === 2)?.tags).toBeUndefined();
    // A fresh state loaded from it is consistent (indexes rebuilt).
    const copy = new RegistryState();
    loadSnapshot(copy, { ...src.header, nodes: Object.fromEntries(got.map((n) => [n.id, n])) }, 0);
    expect(copy.idForHostname('n8')).toBe(8);
    expect(copy.keyIndex.get(keys[9])).toBe(10);
  });
});

describe('liveness', () => {
  it('reaps silent nodes after the TTL; heartbeats keep nodes alive; identity data survives', async () => {
    let now = 1_700_000_000_000;
    const server = await startTestRegistry({ clock: () => now, nodeTtlMs: 180_000 });
    const a = await registerNode(server, { hostname: 'quiet' });
    const b = await registerNode(server);
    await a.client.reportTrust(b.nodeId);
    await a.client.requestHandshake(b.nodeId, 'x');
    now += 120_000;
    await b.client.heartbeat();
    now += 61_000;
    expect(server.reap()).toBe(1);
    expect(server.state.node(a.nodeId)).toBeUndefined();
    expect(server.state.node(b.nodeId)).toBeDefined();
    expect(server.state.idForHostname('quiet')).toBeUndefined();
    await expect(a.client.heartbeat()).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    expect(server.state.hasTrust(a.nodeId, b.nodeId)).toBe(true);
    // Re-registration with the same key restores the same ID.
    expect((await a.client.register()).node_id).toBe(a.nodeId);
    expect((await b.client.pollHandshakes()).requests).toHaveLength(1);
  });
});
