/**
 * Networks beyond the backbone (reference network_test / admin_token_test): admin token gate, name rules,
 * join rules open/token/invite, leave, list_networks, list_nodes, ID overflow guard.
 */
import { describe, expect, it } from 'vitest';
import { clientFor, registerNode, startTestRegistry } from './helpers.js';

describe('create_network and the admin token', () => {
  it('creation is disabled without a configured admin token', async () => {
    const server = await startTestRegistry();
    const c = clientFor(server);
    await expect(c.createNetwork({ name: 'x', adminToken: 'anything' })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_ADMIN_TOKEN',
      message: expect.stringMatching(/no admin token configured/),
    });
  });

  it('needs the right token, a valid unique name and a token for token networks', async () => {
    const server = await startTestRegistry({ adminToken: 'secret' });
    const c = clientFor(server);
    await expect(c.createNetwork({ name: 'team', adminToken: 'wrong' })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_ADMIN_TOKEN',
    });
    await expect(c.request({ type: 'create_network', name: 'team' })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_ADMIN_TOKEN',
    });
    for (const bad of ['Team', 'a_b', '-x', '', 'backbone', 'x'.repeat(64)]) {
      await expect(c.createNetwork({ name: bad, adminToken: 'secret' })).rejects.toMatchObject({
        code: expect.stringMatching(/ERR_REGISTRY_NETWORK_INVALID|ERR_REGISTRY_INVALID_FIELD/),
      });
    }
    await expect(
      c.createNetwork({ name: 'tok', adminToken: 'secret', joinRule: 'token' }),
    ).rejects.toMatchObject({
      code: 'ERR_REGISTRY_NETWORK_INVALID',
    });
    await expect(
      c.request({ type: 'create_network', name: 'r', admin_token: 'secret', join_rule: 'closed' }),
    ).rejects.toMatchObject({ code: 'ERR_REGISTRY_INVALID_FIELD' });
    const ok = await c.createNetwork({ name: 'team', adminToken: 'secret' });
    expect(ok).toMatchObject({ type: 'create_network_ok', network_id: 1, name: 'team', join_rule: 'open' });
    await expect(c.createNetwork({ name: 'team', adminToken: 'secret' })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_NETWORK_EXISTS',
    });
    expect(server.state.networks.size).toBe(2);
  });

  it('guards the 16-bit network ID space', async () => {
    const server = await startTestRegistry({ adminToken: 'a' });
    server.state.setCounters(1, 0xffff);
    const c = clientFor(server);
    expect((await c.createNetwork({ name: 'last', adminToken: 'a' })).network_id).toBe(0xffff);
    await expect(c.createNetwork({ name: 'overflow', adminToken: 'a' })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_NETWORK_LIMIT',
    });
  });
});

describe('join rules, leave, listing', () => {
  it('open network: join, already-member, leave, not-member, backbone rules', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const a = await registerNode(server, { hostname: 'alpha', public: true });
    const { network_id: net } = await a.client.createNetwork({ name: 'open-net', adminToken: 'adm' });
    expect(await a.client.joinNetwork(net)).toMatchObject({ network_id: net, node_id: a.nodeId });
    await expect(a.client.joinNetwork(net)).rejects.toMatchObject({ code: 'ERR_REGISTRY_ALREADY_MEMBER' });
    await expect(a.client.joinNetwork(0)).rejects.toMatchObject({ code: 'ERR_REGISTRY_ALREADY_MEMBER' });
    await expect(a.client.joinNetwork(77)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    expect((await a.client.lookup(a.nodeId)).networks).toEqual([0, net]);
    const list = await a.client.listNodes(net);
    expect(list.nodes).toEqual([
      { node_id: a.nodeId, address: expect.any(String), hostname: 'alpha', real_addr: '127.0.0.1:4000' },
    ]);
    await expect(a.client.listNodes(0)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_FORBIDDEN',
      message: expect.stringMatching(/listing backbone nodes is not permitted/),
    });
    await expect(a.client.listNodes(99)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    await expect(a.client.leaveNetwork(0)).rejects.toMatchObject({ code: 'ERR_REGISTRY_FORBIDDEN' });
    expect(await a.client.leaveNetwork(net)).toMatchObject({ network_id: net });
    await expect(a.client.leaveNetwork(net)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_MEMBER' });
    // Leave then rejoin.
    await a.client.joinNetwork(net);
    expect((await a.client.listNetworks()).networks).toEqual([
      { id: 0, name: 'backbone', members: 1, join_rule: 'open' },
      { id: net, name: 'open-net', members: 1, join_rule: 'open' },
    ]);
  });

  it('token network: the right token joins, a wrong one is refused', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const a = await registerNode(server);
    const { network_id: net } = await a.client.createNetwork({
      name: 'tok',
      adminToken: 'adm',
      joinRule: 'token',
      token: 'open-sesame',
    });
    await expect(a.client.joinNetwork(net)).rejects.toMatchObject({ code: 'ERR_REGISTRY_JOIN_DENIED' });
    await expect(a.client.joinNetwork(net, { token: 'nope' })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_JOIN_DENIED',
    });
    expect((await a.client.joinNetwork(net, { token: 'open-sesame' })).node_id).toBe(a.nodeId);
  });

  it('invite network: invite-only; members invite; poll; respond accept joins; admin can add directly', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const a = await registerNode(server);
    const b = await registerNode(server);
    const c = await registerNode(server);
    const { network_id: net } = await a.client.createNetwork({
      name: 'vip',
      adminToken: 'adm',
      joinRule: 'invite',
      nodeId: a.nodeId,
    });
    await expect(b.client.joinNetwork(net)).rejects.toMatchObject({ code: 'ERR_REGISTRY_JOIN_DENIED' });
    await expect(c.client.inviteToNetwork(net, b.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_FORBIDDEN',
    });
    expect(await a.client.inviteToNetwork(net, b.nodeId)).toMatchObject({
      status: 'invited',
      target_id: b.nodeId,
    });
    await expect(a.client.inviteToNetwork(net, a.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_ALREADY_MEMBER',
    });
    const inv = await b.client.pollInvites();
    expect(inv.invites).toEqual([
      expect.objectContaining({ network_id: net, name: 'vip', inviter_id: a.nodeId }),
    ]);
    expect(await b.client.respondInvite(net, true)).toMatchObject({ accept: true });
    expect(server.state.networks.get(net)?.members.has(b.nodeId)).toBe(true);
    await expect(b.client.respondInvite(net, true)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    // Declining removes the invite without joining.
    await a.client.inviteToNetwork(net, c.nodeId);
    await c.client.respondInvite(net, false);
    expect(server.state.networks.get(net)?.members.has(c.nodeId)).toBe(false);
    // Admin token: add and remove any node without its signature; a wrong token is refused.
    await expect(c.client.joinNetwork(net, { adminToken: 'bad' })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_ADMIN_TOKEN',
    });
    expect((await clientFor(server).joinNetwork(net, { adminToken: 'adm', nodeId: c.nodeId })).node_id).toBe(
      c.nodeId,
    );
    expect((await clientFor(server).leaveNetwork(net, { adminToken: 'adm', nodeId: c.nodeId })).node_id).toBe(
      c.nodeId,
    );
  });
});
