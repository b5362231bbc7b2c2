/**
 * Trust pairs, the handshake relay inbox and the private-node resolve rules (reference privacy_test):
 * private nodes resolve only for trusted pairs or shared networks; revoke blocks again; lookup hides
 * real_addr; trust and inboxes survive deregistration.
 */
import { describe, expect, it } from 'vitest';
import { registerNode, startTestRegistry } from './helpers.js';

describe('trust pairs', () => {
  it('report_trust needs both nodes; revoke_trust needs the pair', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const b = await registerNode(server);
    await expect(a.client.reportTrust(999)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    await expect(a.client.reportTrust(a.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_INVALID_FIELD',
    });
    expect(await a.client.reportTrust(b.nodeId)).toMatchObject({
      type: 'report_trust_ok',
      peer_id: b.nodeId,
    });
    expect(server.state.hasTrust(b.nodeId, a.nodeId)).toBe(true);
    expect(await b.client.revokeTrust(a.nodeId)).toMatchObject({ type: 'revoke_trust_ok' });
    expect(server.state.hasTrust(a.nodeId, b.nodeId)).toBe(false);
    await expect(b.client.revokeTrust(a.nodeId)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NO_TRUST' });
  });

  it('trust pairs survive deregistration (identity-level data)', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const b = await registerNode(server);
    await a.client.reportTrust(b.nodeId);
    await a.client.deregister();
    expect(server.state.hasTrust(a.nodeId, b.nodeId)).toBe(true);
  });
});

describe('private node resolve rules', () => {
  it('private: denied without trust; allowed with trust; denied again after revoke', async () => {
    const server = await startTestRegistry();
    const priv = await registerNode(server, { listenAddr: ':4444' });
    const other = await registerNode(server);
    await expect(other.client.resolve(priv.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_RESOLVE_DENIED',
      message: expect.stringMatching(/node 1 is private/),
    });
    expect((await other.client.lookup(priv.nodeId)).real_addr).toBeUndefined();
    await priv.client.reportTrust(other.nodeId);
    expect((await other.client.resolve(priv.nodeId)).real_addr).toBe('127.0.0.1:4444');
    await other.client.revokeTrust(priv.nodeId);
    await expect(other.client.resolve(priv.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_RESOLVE_DENIED',
    });
    // A node may always resolve itself.
    expect((await priv.client.resolve(priv.nodeId)).real_addr).toBe('127.0.0.1:4444');
  });

  it('a shared non-backbone network allows resolve', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const priv = await registerNode(server);
    const other = await registerNode(server);
    const net = await priv.client.createNetwork({ name: 'lab', adminToken: 'adm', nodeId: priv.nodeId });
    await expect(other.client.resolve(priv.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_RESOLVE_DENIED',
    });
    await other.client.joinNetwork(net.network_id);
    expect((await other.client.resolve(priv.nodeId)).real_addr).toBe('127.0.0.1:4000');
    await other.client.leaveNetwork(net.network_id);
    await expect(other.client.resolve(priv.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_RESOLVE_DENIED',
    });
  });

  it('public nodes resolve for any registered requester; unregistered requesters are refused', async () => {
    const server = await startTestRegistry();
    const pub = await registerNode(server, { public: true });
    const other = await registerNode(server);
    expect((await other.client.resolve(pub.nodeId)).node_id).toBe(pub.nodeId);
    await other.client.deregister();
    await expect(other.client.resolve(pub.nodeId)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
  });
});

describe('handshake relay', () => {
  it('request → poll (clears) → respond(accept) → trust pair + response queued for the requester', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const b = await registerNode(server);
    expect(await a.client.requestHandshake(b.nodeId, 'let me in')).toMatchObject({ status: 'delivered' });
    const polled = await b.client.pollHandshakes();
    expect(polled.requests).toHaveLength(1);
    expect(polled.requests[0]).toMatchObject({ from_node_id: a.nodeId, justification: 'let me in' });
    expect(typeof polled.requests[0].timestamp).toBe('number');
    expect((await b.client.pollHandshakes()).requests).toEqual([]);
    expect(await b.client.respondHandshake(a.nodeId, true)).toMatchObject({
      accept: true,
      peer_id: a.nodeId,
    });
    expect(server.state.hasTrust(a.nodeId, b.nodeId)).toBe(true);
    const back = await a.client.pollHandshakes();
    expect(back.responses).toEqual([expect.objectContaining({ from_node_id: b.nodeId, accept: true })]);
    expect((await a.client.pollHandshakes()).responses).toEqual([]);
  });

  it('a reject creates no trust; one pending request per sender; inbox bounded', async () => {
    const server = await startTestRegistry({ handshakeInboxLimit: 2 });
    const a = await registerNode(server);
    const b = await registerNode(server);
    const c = await registerNode(server);
    const d = await registerNode(server);
    await a.client.requestHandshake(b.nodeId, 'one');
    await a.client.requestHandshake(b.nodeId, 'two');
    await c.client.requestHandshake(b.nodeId, 'three');
    await expect(d.client.requestHandshake(b.nodeId, 'four')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_INBOX_FULL',
    });
    const polled = await b.client.pollHandshakes();
    expect(polled.requests.map((r) => r.justification)).toEqual(['two', 'three']);
    await b.client.respondHandshake(a.nodeId, false);
    expect(server.state.hasTrust(a.nodeId, b.nodeId)).toBe(false);
    expect((await a.client.pollHandshakes()).responses).toEqual([
      expect.objectContaining({ from_node_id: b.nodeId, accept: false }),
    ]);
  });

  it('refuses unknown targets, self-requests and oversized justifications', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    await expect(a.client.requestHandshake(999, 'x')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_NOT_FOUND',
    });
    await expect(a.client.requestHandshake(a.nodeId, 'x')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_INVALID_FIELD',
    });
    const b = await registerNode(server);
    await expect(a.client.requestHandshake(b.nodeId, 'x'.repeat(5000))).rejects.toMatchObject({
      code: 'ERR_REGISTRY_INVALID_FIELD',
    });
    await expect(b.client.respondHandshake(4242, true)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_NOT_FOUND',
    });
  });

  it('inboxes survive the target deregistering and re-registering', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const b = await registerNode(server);
    await a.client.requestHandshake(b.nodeId, 'hello');
    await b.client.deregister();
    await b.client.register();
    expect((await b.client.pollHandshakes()).requests).toHaveLength(1);
  });
});
