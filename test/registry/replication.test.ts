/**
 * Hot standby (reference replication_test): a standby subscribes with the replication token, receives a snapshot
 * and then changes, serves reads, refuses writes, and can be promoted (in place, or by restarting on its store).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RegistryRole, startRegistry } from '../../src/registry/index.js';
import {
  clientFor,
  makeIdentity,
  RawConnection,
  registerNode,
  startTestRegistry,
  waitFor,
} from './helpers.js';

describe('replication', () => {
  it('a standby gets the snapshot and every later change, serves reads and refuses writes', async () => {
    const primary = await startTestRegistry({ replicationToken: 'rep', adminToken: 'adm' });
    const a = await registerNode(primary, { hostname: 'alpha', public: true, listenAddr: ':7001' });
    const b = await registerNode(primary);
    await a.client.reportTrust(b.nodeId);
    const p = primary.address as { host: string; port: number };
    const standby = await startTestRegistry({ standby: `${p.host}:${p.port}`, replicationToken: 'rep' });
    expect(standby.role).toBe(RegistryRole.Standby);
    await waitFor(() => standby.state.nodes.size === 2);
    expect(standby.state.hasTrust(a.nodeId, b.nodeId)).toBe(true);
    expect(primary.stats().standbys).toBe(1);

    // Later changes stream over.
    await a.client.setTags(['gpu']);
    await b.client.setHostname('bravo');
    const { network_id: net } = await a.client.createNetwork({
      name: 'lab',
      adminToken: 'adm',
      nodeId: a.nodeId,
    });
    await b.client.joinNetwork(net);
    await b.client.requestHandshake(a.nodeId, 'hello');
    const c = await registerNode(primary);
    await c.client.deregister();
    await a.client.revokeTrust(b.nodeId);
    await waitFor(
      () =>
        standby.state.node(a.nodeId)?.tags?.[0] === 'gpu' &&
        standby.state.idForHostname('bravo') === b.nodeId &&
        standby.state.networks.get(net)?.members.size === 2 &&
        standby.state.inboxes.get(a.nodeId)?.length === 1 &&
        !standby.state.hasTrust(a.nodeId, b.nodeId) &&
        standby.state.nextNode === 4 &&
        standby.state.node(c.nodeId) === undefined &&
        standby.state.keyIndex.get(c.id.publicKeyB64) === c.nodeId,
    );

    // Reads work on the standby, writes are refused.
    const sa = clientFor(standby, a.id);
    expect((await sa.lookup(a.nodeId, {})).tags).toEqual(['gpu']);
    expect((await sa.resolveHostname('bravo')).node_id).toBe(b.nodeId);
    expect((await sa.heartbeat({ nodeId: a.nodeId })).node_id).toBe(a.nodeId);
    expect((await sa.resolve(b.nodeId, { nodeId: a.nodeId })).node_id).toBe(b.nodeId);
    expect((await sa.listNetworks()).networks).toHaveLength(2);
    expect((await sa.listNodes(net)).nodes).toHaveLength(2);
    await expect(sa.register()).rejects.toMatchObject({
      code: 'ERR_REGISTRY_STANDBY',
      message: expect.stringMatching(/standby mode: write operations not accepted/),
    });
    await expect(sa.setTags(['x'], { nodeId: a.nodeId })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_STANDBY',
    });
    await expect(sa.reportTrust(b.nodeId, { nodeId: a.nodeId })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_STANDBY',
    });
  });

  it('refuses subscribers without the right token, or when replication is disabled', async () => {
    const off = await startTestRegistry();
    const raw = await RawConnection.open(off);
    expect(await raw.ask({ type: 'subscribe_replication', token: 'x' })).toMatchObject({
      code: 'ERR_REGISTRY_REPLICATION_DISABLED',
    });
    const on = await startTestRegistry({ replicationToken: 'right' });
    const raw2 = await RawConnection.open(on);
    expect(await raw2.ask({ type: 'subscribe_replication', token: 'wrong' })).toMatchObject({
      code: 'ERR_REGISTRY_REPLICATION_TOKEN',
    });
    expect(await raw2.ask({ type: 'subscribe_replication' })).toMatchObject({
      code: 'ERR_REGISTRY_REPLICATION_TOKEN',
    });
    expect(on.stats().standbys).toBe(0);
    // A raw subscriber with the token gets the snapshot first.
    const raw3 = await RawConnection.open(on);
    expect(await raw3.ask({ type: 'subscribe_replication', token: 'right' })).toMatchObject({
      type: 'replication_snapshot',
      snapshot: { next_node: 1 },
    });
  });

  it('failover under load: promote the standby; it accepts writes and keeps IDs and keys', async () => {
    const primary = await startRegistry({ port: 0, replicationToken: 'rep', registrationRateLimit: false });
    onTestFinished(() => primary.close());
    const nodes = await Promise.all(Array.from({ length: 3 }, () => registerNode(primary)));
    const p = primary.address as { host: string; port: number };
    const standby = await startTestRegistry({
      standby: { host: p.host, port: p.port, token: 'rep', reconnectMs: 50 },
    });
    await waitFor(() => standby.state.nodes.size === 3);
    // Writes keep arriving while the standby follows.
    const more = await Promise.all(Array.from({ length: 20 }, () => registerNode(primary)));
    await waitFor(() => standby.state.nodes.size === 23);
    await primary.close();
    standby.promote();
    expect(standby.role).toBe(RegistryRole.Primary);
    const again = clientFor(standby, nodes[0].id);
    expect((await again.register()).node_id).toBe(nodes[0].nodeId);
    expect((await clientFor(standby, more[5].id).register()).node_id).toBe(more[5].nodeId);
    const fresh = await clientFor(standby, makeIdentity()).register();
    expect(fresh.node_id).toBe(24);
    // A promoted standby does not reap the nodes it took over before they had a chance to heartbeat.
    expect(standby.reap()).toBe(0);
  });

  it('promotion by restart: the standby persisted what it received', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pilot-standby-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const store = join(dir, 'standby.json');
    const primary = await startTestRegistry({ replicationToken: 'rep' });
    const a = await registerNode(primary, { hostname: 'keep-me' });
    const p = primary.address as { host: string; port: number };
    const standby = await startRegistry({
      port: 0,
      store,
      saveDebounceMs: 20,
      standby: { host: p.host, port: p.port, token: 'rep' },
    });
    onTestFinished(() => standby.close());
    await waitFor(() => standby.state.nodes.size === 1);
    await standby.close();
    const promoted = await startTestRegistry({ store });
    expect(promoted.role).toBe(RegistryRole.Primary);
    expect((await clientFor(promoted).resolveHostname('keep-me')).node_id).toBe(a.nodeId);
  });

  it('a standby reconnects and resynchronises when the primary comes back', async () => {
    const primary = await startRegistry({ port: 0, replicationToken: 'rep', registrationRateLimit: false });
    onTestFinished(() => primary.close());
    const p = primary.address as { host: string; port: number };
    const standby = await startTestRegistry({
      standby: { host: p.host, port: p.port, token: 'rep', reconnectMs: 50 },
    });
    await registerNode(primary);
    await waitFor(() => standby.state.nodes.size === 1);
    await primary.close();
    const back = await startTestRegistry({ port: p.port, replicationToken: 'rep' });
    await registerNode(back);
    await registerNode(back);
    await waitFor(() => standby.state.nodes.size === 2 && back.stats().standbys === 1, 5000);
  });
});
