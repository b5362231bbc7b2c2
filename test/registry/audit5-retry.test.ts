/**
 * Audit 5: requests repeated after the connection broke. When the registry applied a `join_network`,
 * `leave_network` or `revoke_trust` but the connection dropped before its answer arrived, the client repeats the
 * request on the next connection, and the registry then answers "already a member" / "not a member" / "no trust
 * pair": the call used to fail although exactly what was asked had happened. After a repeat these answers mean
 * success.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { RegistryClient } from '../../src/registry/index.js';
import { dropOnceProxy, makeIdentity, registerNode, startTestRegistry } from './helpers.js';

async function clientVia(port: number): Promise<{ c: RegistryClient; nodeId: number }> {
  const c = new RegistryClient({
    host: '127.0.0.1',
    port,
    signer: makeIdentity(),
    timeoutMs: 3000,
    backoffInitialMs: 10,
  });
  onTestFinished(() => c.close());
  const r = await c.register({ listenAddr: '0.0.0.0:4000' });
  return { c, nodeId: r.node_id };
}

describe('audit5: requests repeated after a broken connection', () => {
  it('join_network applied before the drop succeeds', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const proxy = await dropOnceProxy(server.address!.port, 'join_network_ok');
    const { c, nodeId } = await clientVia(proxy.port);
    const net = await c.createNetwork({ name: 'lab', adminToken: 'adm' });
    await expect(c.joinNetwork(net.network_id)).resolves.toMatchObject({
      type: 'join_network_ok',
      network_id: net.network_id,
      node_id: nodeId,
    });
    expect(proxy.dropped()).toBe(true);
    expect((await c.lookup(nodeId)).networks).toContain(net.network_id);
  });

  it('leave_network applied before the drop succeeds', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const proxy = await dropOnceProxy(server.address!.port, 'leave_network_ok');
    const { c, nodeId } = await clientVia(proxy.port);
    const net = await c.createNetwork({ name: 'lab', adminToken: 'adm', nodeId });
    await expect(c.leaveNetwork(net.network_id)).resolves.toMatchObject({
      type: 'leave_network_ok',
      network_id: net.network_id,
      node_id: nodeId,
    });
    expect(proxy.dropped()).toBe(true);
    expect((await c.lookup(nodeId)).networks).not.toContain(net.network_id);
  });

  it('revoke_trust applied before the drop succeeds', async () => {
    const server = await startTestRegistry();
    const proxy = await dropOnceProxy(server.address!.port, 'revoke_trust_ok');
    const { c, nodeId } = await clientVia(proxy.port);
    const peer = await registerNode(server);
    await c.reportTrust(peer.nodeId);
    await expect(c.revokeTrust(peer.nodeId)).resolves.toMatchObject({
      type: 'revoke_trust_ok',
      node_id: nodeId,
      peer_id: peer.nodeId,
    });
    expect(proxy.dropped()).toBe(true);
    // The pair is gone: a second revoke (not repeated on the wire) is refused as before.
    await expect(c.revokeTrust(peer.nodeId)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NO_TRUST' });
  });

  it('the same answers without a repeat are still errors', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const { c, nodeId } = await clientVia(server.address!.port);
    const net = await c.createNetwork({ name: 'lab', adminToken: 'adm', nodeId });
    await expect(c.joinNetwork(net.network_id)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_ALREADY_MEMBER',
    });
    await c.leaveNetwork(net.network_id);
    await expect(c.leaveNetwork(net.network_id)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_MEMBER' });
  });
});
