/**
 * Audit 6: owner strings are user text and end up as keys of the snapshot's `owner_idx` object (and of the
 * replication batch's). An owner named `__proto__` must survive like any other: a plain `{}` would swallow the
 * assignment (it sets the prototype), so the owner index entry of a deregistered node would vanish on restart
 * and on standbys, letting another key plant a new owner on that node ID and take it over by key recovery.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startRegistry } from '../../src/registry/index.js';
import { clientFor, makeIdentity, registerNode, startTestRegistry } from './helpers.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-audit6-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('owner "__proto__"', () => {
  it('its index entry survives a restart (key recovery still works, no owner planting)', async () => {
    const dir = await tempDir();
    const store = join(dir, 'registry.json');
    const s1 = await startRegistry({ port: 0, host: '127.0.0.1', store, registrationRateLimit: false });
    onTestFinished(() => s1.close());
    const gone = await registerNode(s1, { owner: '__proto__' });
    await gone.client.deregister();
    await s1.close();
    gone.client.close();

    const parsed = JSON.parse(await readFile(store, 'utf8')) as { owner_idx: Record<string, unknown> };
    expect(Object.prototype.hasOwnProperty.call(parsed.owner_idx, '__proto__')).toBe(true);

    const s2 = await startTestRegistry({ store });
    expect(s2.state.ownerIndex.get('__proto__')).toBe(gone.nodeId);
    expect(s2.state.ownerOf(gone.nodeId)).toBe('__proto__');
    // Someone re-registering the (public) old key with another owner cannot replace the recorded owner.
    const planter = await clientFor(s2).register({ publicKey: gone.id.publicKey, owner: 'evil' });
    expect(planter.node_id).toBe(gone.nodeId);
    expect(s2.state.node(gone.nodeId)?.owner).toBe('__proto__');
  });

  it('its index entry reaches a standby', async () => {
    const primary = await startTestRegistry({ replicationToken: 'rep' });
    const p = primary.address as { host: string; port: number };
    const standby = await startTestRegistry({ standby: `${p.host}:${p.port}`, replicationToken: 'rep' });
    await once(standby, 'replicated');
    const gone = await registerNode(primary, { owner: '__proto__' });
    const other = makeIdentity();
    await gone.client.deregister();
    // A later, ordinary change: once it has arrived, the batch carrying the owner entry has too.
    const marker = await clientFor(primary, other).register({ owner: 'marker' });
    for (let i = 0; i < 50 && standby.state.ownerIndex.get('marker') !== marker.node_id; i++) {
      await once(standby, 'replicated');
    }
    expect(standby.state.ownerIndex.get('marker')).toBe(marker.node_id);
    expect(standby.state.node(gone.nodeId)).toBeUndefined();
    expect(standby.state.ownerIndex.get('__proto__')).toBe(gone.nodeId);
  });
});
