/**
 * Audit: `rotateKey` when the connection breaks after the registry applied the rotation but before its answer
 * arrived. Repeating the request (signed with the old key) cannot succeed; the client must find out that the
 * rotation happened and switch to the new signer instead of reporting a signature failure.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { RegistryClient } from '../../src/registry/index.js';
import { dropOnceProxy, makeIdentity, startTestRegistry } from './helpers.js';

describe('audit: rotateKey across a broken connection', () => {
  it('a rotation applied before the connection broke is recognised and the new signer installed', async () => {
    const server = await startTestRegistry();
    const addr = server.address as { host: string; port: number };
    const proxy = await dropOnceProxy(addr.port, 'rotate_key_ok');
    const oldId = makeIdentity();
    const newId = makeIdentity();
    const c = new RegistryClient({
      host: '127.0.0.1',
      port: proxy.port,
      signer: oldId,
      timeoutMs: 5000,
      backoffInitialMs: 10,
    });
    onTestFinished(() => c.close());
    const { node_id: nodeId } = await c.register({ listenAddr: ':4000' });

    const answer = await c.rotateKey(newId.publicKey, { newSigner: newId });
    expect(proxy.dropped()).toBe(true);
    expect(answer).toMatchObject({ node_id: nodeId, public_key: newId.publicKeyB64 });
    expect(server.state.node(nodeId)?.publicKey).toBe(newId.publicKeyB64);
    expect(c.signer).toBe(newId);
    expect((await c.heartbeat({ nodeId })).node_id).toBe(nodeId);
  });

  it('a rotation that was not applied still fails', async () => {
    const server = await startTestRegistry();
    const addr = server.address as { host: string; port: number };
    // Drops the connection as soon as the rotate request's answer would come back; the registry refuses it.
    const proxy = await dropOnceProxy(addr.port, 'ERR_REGISTRY_SIGNATURE');
    const owner = makeIdentity();
    const stranger = makeIdentity();
    const newId = makeIdentity();
    const c = new RegistryClient({
      host: '127.0.0.1',
      port: proxy.port,
      signer: owner,
      backoffInitialMs: 10,
    });
    onTestFinished(() => c.close());
    const { node_id: nodeId } = await c.register({ listenAddr: ':4000' });
    c.signer = stranger;
    await expect(c.rotateKey(newId.publicKey, { newSigner: newId, nodeId })).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_REGISTRY_(CONNECTION|SIGNATURE)$/),
    });
    expect(proxy.dropped()).toBe(true);
    expect(c.signer).toBe(stranger);
    expect(server.state.node(nodeId)?.publicKey).toBe(owner.publicKeyB64);
  });
});
