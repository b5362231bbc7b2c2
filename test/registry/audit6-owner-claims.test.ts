/**
 * Audit 6: "an owner, once recorded for a node ID (alive or not), is never replaced by another one" must also hold
 * for a node whose owner string is shared with another live node (one operator, several nodes, one owner e-mail).
 * Such a node's owner is recorded but not indexed; once it went away, re-registering its public (hence known) key
 * with another owner planted that owner, and after the reap a fresh key with that owner took the ID over by key
 * recovery, inheriting the victim's trust pairs and inboxes.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RegistryServer } from '../../src/registry/index.js';
import { clientFor, makeIdentity, registerNode, startTestRegistry } from './helpers.js';

/** Plant owner "evil" on `victimKey`'s ID, let the planted record be reaped, then try key recovery. */
async function attack(
  server: RegistryServer,
  advance: () => void,
  victimId: number,
  victimKey: Buffer,
): Promise<number> {
  const planted = await clientFor(server).register({ publicKey: victimKey, owner: 'evil' });
  expect(planted.node_id).toBe(victimId);
  advance();
  expect(server.reap()).toBeGreaterThanOrEqual(1);
  expect(server.state.node(victimId)).toBeUndefined();
  const thief = makeIdentity();
  const got = await clientFor(server, thief).register({ owner: 'evil' });
  return got.node_id;
}

describe('owner shared by two nodes', () => {
  it('the second node keeps its owner claim after it goes away', async () => {
    let now = Date.now();
    const server = await startTestRegistry({ clock: () => now });
    const a = await registerNode(server, { owner: 'ops@example.com' });
    const b = await registerNode(server, { owner: 'ops@example.com' });
    const peer = await registerNode(server);
    await b.client.reportTrust(peer.nodeId);
    await b.client.deregister();
    const thiefId = await attack(server, () => (now += 10 * 60_000), b.nodeId, b.id.publicKey);
    expect(thiefId).not.toBe(b.nodeId);
    expect(server.state.idForOwner('evil')).not.toBe(b.nodeId);
    expect(a.nodeId).not.toBe(b.nodeId);
  });

  it('the claim survives a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pilot-audit6-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const store = join(dir, 'registry.json');
    let now = Date.now();
    const s1 = await startTestRegistry({ store, clock: () => now });
    await registerNode(s1, { owner: 'ops@example.com' });
    const b = await registerNode(s1, { owner: 'ops@example.com' });
    await b.client.deregister();
    await s1.close();
    b.client.close();

    const s2 = await startTestRegistry({ store, clock: () => now });
    expect(s2.state.ownerOf(b.nodeId)).toBe('ops@example.com');
    const thiefId = await attack(s2, () => (now += 10 * 60_000), b.nodeId, b.id.publicKey);
    expect(thiefId).not.toBe(b.nodeId);
  });

  it('the claim reaches standbys, by change batch and by snapshot', async () => {
    const primary = await startTestRegistry({ replicationToken: 'rep' });
    const p = primary.address as { host: string; port: number };
    const live = await startTestRegistry({ standby: `${p.host}:${p.port}`, replicationToken: 'rep' });
    await once(live, 'replicated');
    await registerNode(primary, { owner: 'ops@example.com' });
    const b = await registerNode(primary, { owner: 'ops@example.com' });
    await b.client.deregister();
    const marker = await registerNode(primary, { owner: 'marker' });
    for (let i = 0; i < 50 && live.state.ownerIndex.get('marker') !== marker.nodeId; i++) {
      await once(live, 'replicated');
    }
    expect(live.state.node(b.nodeId)).toBeUndefined();
    expect(live.state.ownerOf(b.nodeId)).toBe('ops@example.com');
    const late = await startTestRegistry({ standby: `${p.host}:${p.port}`, replicationToken: 'rep' });
    await once(late, 'replicated');
    expect(late.state.ownerOf(b.nodeId)).toBe('ops@example.com');
  });
});
