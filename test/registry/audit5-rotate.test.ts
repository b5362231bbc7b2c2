/**
 * Audit 5: `rotateKey` against a slow registry. When the registry applies the rotation but its answer arrives
 * after the request's deadline, the client used to report ERR_REGISTRY_TIMEOUT and keep the old signer: every
 * later signed call then failed with ERR_REGISTRY_SIGNATURE, and the rotation could not be retried (it must be
 * signed with the current key, which is now the new one). Like a broken connection, a wire timeout must be
 * followed by a lookup that tells whether the rotation happened.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { RegistryClient } from '../../src/registry/index.js';
import { filterProxy, makeIdentity, startTestRegistry, withholdingProxy } from './helpers.js';

describe('audit5: rotateKey and a slow registry', () => {
  it('a rotation applied whose answer came too late is recognised and the new signer installed', async () => {
    const server = await startTestRegistry();
    const proxy = await withholdingProxy(server.address!.port, 'rotate_key_ok');
    const oldId = makeIdentity();
    const newId = makeIdentity();
    const c = new RegistryClient({
      host: '127.0.0.1',
      port: proxy.port,
      signer: oldId,
      timeoutMs: 3000,
      backoffInitialMs: 10,
    });
    onTestFinished(() => c.close());
    const reg = await c.register();
    const rotated = c.rotateKey(newId.publicKey, { newSigner: newId, timeoutMs: 300 });
    await proxy.withheld;
    await expect(rotated).resolves.toMatchObject({
      node_id: reg.node_id,
      public_key: newId.publicKeyB64,
    });
    expect(c.signer).toBe(newId);
    // Signed calls work with the new key.
    await expect(c.heartbeat()).resolves.toMatchObject({ node_id: reg.node_id });
  });

  it('a rotation that timed out and was not applied still fails with ERR_REGISTRY_TIMEOUT', async () => {
    const server = await startTestRegistry();
    // Swallow the request itself: the registry never sees it.
    const swallowPort = await filterProxy(server.address!.port, {
      request: (chunk) => !chunk.includes('rotate_key'),
    });
    const oldId = makeIdentity();
    const newId = makeIdentity();
    const c = new RegistryClient({
      host: '127.0.0.1',
      port: swallowPort,
      signer: oldId,
      timeoutMs: 3000,
      backoffInitialMs: 10,
    });
    onTestFinished(() => c.close());
    await c.register();
    await expect(c.rotateKey(newId.publicKey, { newSigner: newId, timeoutMs: 200 })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_TIMEOUT',
    });
    expect(c.signer).toBe(oldId);
    await expect(c.heartbeat()).resolves.toMatchObject({ type: 'heartbeat_ok' });
  });
});
