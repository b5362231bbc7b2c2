/**
 * RegistryPeerResolver (coreapi PeerResolver) and RegistryKeySource over a real registry: PeerInfo shape,
 * private endpoints, caching with size/TTL bounds, shared round trips, invalidation on re-key, ERR_PEER_NOT_FOUND.
 */
import { describe, expect, it } from 'vitest';
import { PeerNotFoundError } from '../../src/coreapi/errors.js';
import type { PeerResolver } from '../../src/coreapi/resolver.js';
import { RegistryKeySource, RegistryPeerResolver } from '../../src/registry/index.js';
import { parseEndpoint } from '../../src/registry/peer-resolver.js';
import { makeIdentity, registerNode, startTestRegistry } from './helpers.js';

describe('RegistryPeerResolver', () => {
  it('resolves public and trusted private peers to PeerInfo; hidden endpoints are null', async () => {
    const server = await startTestRegistry();
    const me = await registerNode(server);
    const pub = await registerNode(server, { public: true, hostname: 'pub', listenAddr: ':6001' });
    const priv = await registerNode(server, { listenAddr: ':6002' });
    const friend = await registerNode(server, { listenAddr: ':6003' });
    await friend.client.reportTrust(me.nodeId);
    const resolver: PeerResolver = new RegistryPeerResolver({ client: me.client });
    expect(await resolver.resolve(pub.nodeId)).toEqual({
      nodeId: pub.nodeId,
      addr: { network: 0, node: pub.nodeId },
      endpoint: { host: '127.0.0.1', port: 6001 },
      publicKey: pub.id.publicKey,
      public: true,
      hostname: 'pub',
      relayOnly: false,
    });
    expect((await resolver.resolve(priv.nodeId)).endpoint).toBeNull();
    expect((await resolver.resolve(friend.nodeId)).endpoint).toEqual({ host: '127.0.0.1', port: 6003 });
    await expect(resolver.resolve(4242)).rejects.toBeInstanceOf(PeerNotFoundError);
    await expect(resolver.resolve(4242)).rejects.toMatchObject({ code: 'ERR_PEER_NOT_FOUND' });
    expect(await resolver.resolveHostname('pub')).toBe(pub.nodeId);
    await expect(resolver.resolveHostname('nobody')).rejects.toMatchObject({ code: 'ERR_PEER_NOT_FOUND' });
  });

  it('caches answers, shares concurrent lookups, and invalidates on re-key', async () => {
    const server = await startTestRegistry();
    const me = await registerNode(server);
    const peer = await registerNode(server, { public: true });
    const resolver = new RegistryPeerResolver({ client: me.client, cacheSize: 2, ttlMs: 60_000 });
    const before = server.stats().requests;
    const all = await Promise.all(Array.from({ length: 10 }, () => resolver.resolve(peer.nodeId)));
    expect(new Set(all).size).toBe(1);
    await resolver.resolve(peer.nodeId);
    expect(server.stats().requests - before).toBe(1);
    // The peer rotates its key: the cached key is stale until invalidated.
    const next = makeIdentity();
    await peer.client.rotateKey(next.publicKey, { newSigner: next });
    expect((await resolver.resolve(peer.nodeId)).publicKey).toEqual(peer.id.publicKey);
    resolver.invalidate(peer.nodeId);
    expect((await resolver.resolve(peer.nodeId)).publicKey).toEqual(next.publicKey);
    // Size bound.
    const others = await Promise.all([registerNode(server), registerNode(server), registerNode(server)]);
    for (const o of others) await resolver.resolve(o.nodeId);
    expect(resolver.cacheSize).toBe(2);
  });

  it('expires entries after the TTL', async () => {
    const server = await startTestRegistry();
    const me = await registerNode(server);
    const peer = await registerNode(server, { public: true });
    const resolver = new RegistryPeerResolver({ client: me.client, ttlMs: 50 });
    await resolver.resolve(peer.nodeId);
    await peer.client.setVisibility(false);
    await new Promise((r) => setTimeout(r, 80));
    expect((await resolver.resolve(peer.nodeId)).public).toBe(false);
  });

  it('listByNetwork resolves the members; the backbone cannot be listed', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const me = await registerNode(server);
    const other = await registerNode(server);
    const { network_id: net } = await me.client.createNetwork({
      name: 'n',
      adminToken: 'adm',
      nodeId: me.nodeId,
    });
    await other.client.joinNetwork(net);
    const resolver = new RegistryPeerResolver({ client: me.client });
    const peers = await resolver.listByNetwork(net);
    expect(peers.map((p) => p.nodeId).sort()).toEqual([me.nodeId, other.nodeId].sort());
    // Sharing a network makes the private member's endpoint visible.
    expect(peers.find((p) => p.nodeId === other.nodeId)?.endpoint).toEqual({ host: '127.0.0.1', port: 4000 });
    await expect(resolver.listByNetwork(0)).rejects.toMatchObject({ code: 'ERR_REGISTRY_FORBIDDEN' });
  });

  it('honours an AbortSignal per call', async () => {
    const server = await startTestRegistry();
    const me = await registerNode(server);
    const resolver = new RegistryPeerResolver({ client: me.client });
    const ac = new AbortController();
    ac.abort();
    await expect(resolver.resolve(me.nodeId, { signal: ac.signal })).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
    expect((await resolver.resolve(me.nodeId)).nodeId).toBe(me.nodeId);
  });
});

describe('RegistryKeySource', () => {
  it('returns the registered key, null for unknown nodes, and refetches after invalidate', async () => {
    const server = await startTestRegistry();
    const me = await registerNode(server);
    const peer = await registerNode(server);
    const keys = new RegistryKeySource({ client: me.client });
    expect(await keys.expectedKey(peer.nodeId)).toEqual(peer.id.publicKey);
    expect(await keys.expectedKey(999)).toBeNull();
    const next = makeIdentity();
    await peer.client.rotateKey(next.publicKey, { newSigner: next });
    expect(await keys.expectedKey(peer.nodeId)).toEqual(peer.id.publicKey);
    keys.invalidate(peer.nodeId);
    expect(await keys.expectedKey(peer.nodeId)).toEqual(next.publicKey);
  });

  it('rejects (does not answer null) when the registry cannot be asked', async () => {
    const server = await startTestRegistry();
    const me = await registerNode(server, {});
    const keys = new RegistryKeySource({ client: me.client });
    me.client.close();
    await expect(keys.expectedKey(1)).rejects.toMatchObject({ code: 'ERR_REGISTRY_CLOSED' });
  });
});

describe('parseEndpoint', () => {
  it('parses IPv4 and bracketed IPv6 endpoints', () => {
    expect(parseEndpoint('1.2.3.4:5')).toEqual({ host: '1.2.3.4', port: 5 });
    expect(parseEndpoint('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseEndpoint('')).toBeNull();
    expect(parseEndpoint(':5')).toBeNull();
    expect(parseEndpoint('nonsense')).toBeNull();
  });
});
