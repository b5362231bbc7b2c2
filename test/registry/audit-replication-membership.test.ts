/**
 * Audit: a standby applying a change batch for a node that is a member of a custom network (hostname, tags or
 * visibility changed on the primary, network itself unchanged) must keep the node in the network's member set.
 */
import { describe, expect, it } from 'vitest';
import { clientFor, registerNode, startTestRegistry, waitFor } from './helpers.js';

describe('audit: replication keeps network memberships', () => {
  it('a member that changes its hostname stays listed on the standby', async () => {
    const primary = await startTestRegistry({ replicationToken: 'rep', adminToken: 'adm' });
    const a = await registerNode(primary);
    const b = await registerNode(primary);
    const { network_id: net } = await a.client.createNetwork({
      name: 'lab',
      adminToken: 'adm',
      nodeId: a.nodeId,
    });
    await b.client.joinNetwork(net);
    const p = primary.address as { host: string; port: number };
    const standby = await startTestRegistry({ standby: `${p.host}:${p.port}`, replicationToken: 'rep' });
    await waitFor(() => standby.state.networks.get(net)?.members.size === 2);

    // Only the node record changes on the primary; the network is not part of the batch.
    await b.client.setHostname('bravo');
    await a.client.setTags(['gpu']);
    await waitFor(
      () =>
        standby.state.idForHostname('bravo') === b.nodeId &&
        standby.state.node(a.nodeId)?.tags?.[0] === 'gpu',
    );

    expect(standby.state.node(b.nodeId)?.networks).toEqual([net]);
    expect([...(standby.state.networks.get(net)?.members ?? [])].sort()).toEqual([a.nodeId, b.nodeId].sort());
    const sc = clientFor(standby);
    const listed = (await sc.listNodes(net)).nodes.map((n) => n.node_id).sort();
    expect(listed).toEqual([a.nodeId, b.nodeId].sort());
    expect((await sc.listNetworks()).networks.find((n) => n.id === net)?.members).toBe(2);
  });
});
