/**
 * Audit of RegistryPeerResolver's caches: `invalidate(id)` must also forget hostnames learned for that node via
 * `resolveHostname`, so a hostname that moved to another node is not resolved to the old one.
 */
import { describe, expect, it } from 'vitest';
import { RegistryPeerResolver } from '../../src/registry/index.js';
import { clientFor, registerNode, startTestRegistry } from './helpers.js';

describe('audit: resolver hostname cache', () => {
  it('invalidate(id) drops a hostname mapping learned by resolveHostname', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { hostname: 'svc' });
    const b = await registerNode(server);
    const resolver = new RegistryPeerResolver({ client: clientFor(server) });

    expect(await resolver.resolveHostname('svc')).toBe(a.nodeId);

    // The name moves from a to b; the caller learns a is stale (e.g. its tunnel key check failed).
    await a.client.setHostname('');
    await b.client.setHostname('svc');
    resolver.invalidate(a.nodeId);

    expect(await resolver.resolveHostname('svc')).toBe(b.nodeId);
  });

  it('invalidate(id) still drops the name of a peer cached by resolve(id)', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { hostname: 'svc2' });
    const b = await registerNode(server);
    const resolver = new RegistryPeerResolver({ client: clientFor(server) });
    expect((await resolver.resolve(a.nodeId)).hostname).toBe('svc2');
    await a.client.setHostname('');
    await b.client.setHostname('svc2');
    resolver.invalidate(a.nodeId);
    expect((await resolver.resolve(a.nodeId)).hostname).toBeUndefined();
    expect(await resolver.resolveHostname('svc2')).toBe(b.nodeId);
  });
});
