/**
 * Node messages over real TCP: register, lookup, resolve, heartbeat, deregister, set_visibility, set_hostname,
 * resolve_hostname, set_tags, set_task_exec, rotate_key, punch, polo score, beacons — success and failure.
 */
import { describe, expect, it } from 'vitest';
import { formatAddr } from '../../src/coreapi/addr.js';
import { clientFor, makeIdentity, RawConnection, registerNode, startTestRegistry } from './helpers.js';

describe('register', () => {
  it('assigns IDs from 1, returns the address and key, stores source IP + listen port', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { listenAddr: '10.9.9.9:7777' });
    const b = await registerNode(server);
    expect(a.nodeId).toBe(1);
    expect(b.nodeId).toBe(2);
    const l = await a.client.lookup(1);
    expect(l.address).toBe(formatAddr({ network: 0, node: 1 }));
    expect(l.public_key).toBe(a.id.publicKeyB64);
    expect(server.state.node(1)?.realAddr).toBe('127.0.0.1:7777');
  });

  it('same key → same node ID (alive, and after deregistration)', async () => {
    const server = await startTestRegistry();
    const id = makeIdentity();
    const c = clientFor(server, id);
    const first = await c.register({ listenAddr: ':4000' });
    const again = await c.register({ listenAddr: ':4001' });
    expect(again.node_id).toBe(first.node_id);
    expect(server.state.node(first.node_id)?.realAddr).toBe('127.0.0.1:4001');
    await c.deregister();
    expect(server.state.node(first.node_id)).toBeUndefined();
    const third = await c.register();
    expect(third.node_id).toBe(first.node_id);
  });

  it('requires a valid 32-byte public key', async () => {
    const server = await startTestRegistry();
    const raw = await RawConnection.open(server);
    expect(await raw.ask({ type: 'register' })).toMatchObject({
      type: 'error',
      code: 'ERR_REGISTRY_INVALID_FIELD',
    });
    expect(await raw.ask({ type: 'register', public_key: 'AAAA' })).toMatchObject({
      code: 'ERR_REGISTRY_KEY_INVALID',
    });
    expect(await raw.ask({ type: 'register', public_key: 'not base64!!' })).toMatchObject({
      code: 'ERR_REGISTRY_KEY_INVALID',
    });
    expect(server.state.nodes.size).toBe(0);
  });

  it('canonicalises the key so one key cannot hold two IDs', async () => {
    const server = await startTestRegistry();
    const id = makeIdentity();
    const raw = await RawConnection.open(server);
    const a = await raw.ask<{ node_id: number }>({ type: 'register', public_key: id.publicKeyB64 });
    const b = await raw.ask<{ node_id: number }>({
      type: 'register',
      public_key: id.publicKeyB64.replace(/=$/, ''),
    });
    expect(b.node_id).toBe(a.node_id);
  });

  it('sets a hostname at registration; invalid → hostname_error; taken → not set', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { hostname: 'alpha' });
    expect(server.state.node(a.nodeId)?.hostname).toBe('alpha');
    const bad = makeIdentity();
    const r1 = await clientFor(server, bad).register({ hostname: 'Bad_Name' });
    expect(r1.node_id).toBeGreaterThan(0);
    expect(r1.hostname_error).toMatch(/invalid/);
    expect(r1.hostname).toBeUndefined();
    const dup = await clientFor(server, makeIdentity()).register({ hostname: 'alpha' });
    expect(dup.hostname).toBeUndefined();
    expect(dup.hostname_error).toMatch(/already in use by node 1/);
    expect(server.state.idForHostname('alpha')).toBe(a.nodeId);
  });

  it('owner-based key recovery reclaims the ID after deregistration, never from a live node', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { owner: 'alice@example.com' });
    // A second key with the same owner while the first node lives: a new node, no takeover.
    const other = await clientFor(server, makeIdentity()).register({ owner: 'alice@example.com' });
    expect(other.node_id).not.toBe(a.nodeId);
    expect(server.state.node(a.nodeId)?.publicKey).toBe(a.id.publicKeyB64);
    await a.client.deregister();
    const fresh = makeIdentity();
    const recovered = await clientFor(server, fresh).register({ owner: 'alice@example.com' });
    expect(recovered.node_id).toBe(a.nodeId);
    expect(recovered.public_key).toBe(fresh.publicKeyB64);
    // The old key no longer maps to the recovered ID.
    const oldAgain = await clientFor(server, a.id).register();
    expect(oldAgain.node_id).not.toBe(a.nodeId);
  });

  it('rate-limits registrations per source IP, known keys exempt', async () => {
    const server = await startTestRegistry({ registrationRateLimit: { perMinute: 3 } });
    const known = makeIdentity();
    const kc = clientFor(server, known);
    await kc.register();
    await clientFor(server, makeIdentity()).register();
    await clientFor(server, makeIdentity()).register();
    await expect(clientFor(server, makeIdentity()).register()).rejects.toMatchObject({
      code: 'ERR_REGISTRY_RATE_LIMITED',
    });
    // A known key re-registers without a token.
    expect((await kc.register()).node_id).toBe(1);
    expect(server.state.nodes.size).toBe(3);
  });
});

describe('lookup / resolve / heartbeat / deregister', () => {
  it('lookup returns the record; real_addr only for public nodes; unknown → NOT_FOUND', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { hostname: 'alpha' });
    let l = await a.client.lookup(a.nodeId);
    expect(l).toMatchObject({
      type: 'lookup_ok',
      node_id: a.nodeId,
      networks: [0],
      public: false,
      polo_score: 0,
      hostname: 'alpha',
    });
    expect(l.real_addr).toBeUndefined();
    expect(l.task_exec).toBeUndefined();
    await a.client.setVisibility(true);
    l = await a.client.lookup(a.nodeId);
    expect(l.real_addr).toBe('127.0.0.1:4000');
    await expect(a.client.lookup(999)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
  });

  it('resolve returns the endpoint of a public node to a registered requester', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { public: true, listenAddr: ':5555' });
    const b = await registerNode(server);
    const r = await b.client.resolve(a.nodeId);
    expect(r).toMatchObject({ type: 'resolve_ok', node_id: a.nodeId, real_addr: '127.0.0.1:5555' });
    await expect(b.client.resolve(777)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    await expect(b.client.resolve(a.nodeId, { nodeId: 555 })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_NOT_FOUND',
    });
  });

  it('heartbeat answers the server time and refreshes last-seen; unknown node → NOT_FOUND', async () => {
    let now = 1_700_000_000_000;
    const server = await startTestRegistry({ clock: () => now });
    const a = await registerNode(server);
    now += 50_000;
    const hb = await a.client.heartbeat();
    expect(hb.time).toBe(Math.floor(now / 1000));
    expect(server.state.node(a.nodeId)?.lastSeen).toBe(Math.floor(now / 1000));
    await expect(a.client.heartbeat({ nodeId: 4242 })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_NOT_FOUND',
    });
  });

  it('deregister removes node, hostname and memberships; unknown node is still ok', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const a = await registerNode(server, { hostname: 'gone' });
    const net = await a.client.createNetwork({ name: 'team', adminToken: 'adm', nodeId: a.nodeId });
    await a.client.deregister();
    expect(server.state.node(a.nodeId)).toBeUndefined();
    expect(server.state.idForHostname('gone')).toBeUndefined();
    expect(server.state.networks.get(net.network_id)?.members.size).toBe(0);
    const b = await registerNode(server);
    expect((await b.client.deregister({ nodeId: 9999 })).node_id).toBe(9999);
    // The hostname is free again.
    expect((await b.client.setHostname('gone')).hostname).toBe('gone');
  });
});

describe('visibility, hostname, tags, task_exec', () => {
  it('set_visibility toggles public/private', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    expect(await a.client.setVisibility(true)).toMatchObject({ node_id: a.nodeId, visibility: 'public' });
    expect(server.state.node(a.nodeId)?.isPublic).toBe(true);
    expect(await a.client.setVisibility(false)).toMatchObject({ visibility: 'private' });
    const raw = await RawConnection.open(server);
    const bad = await raw.ask({
      type: 'set_visibility',
      node_id: a.nodeId,
      public: 'yes',
      signature: a.id.sig(`set_visibility:${a.nodeId}`),
    });
    expect(bad).toMatchObject({ type: 'error', code: 'ERR_REGISTRY_INVALID_FIELD' });
  });

  it('set_hostname validates, enforces uniqueness, clears with ""; resolve_hostname finds it', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const b = await registerNode(server);
    expect(await a.client.setHostname('web-1')).toMatchObject({ node_id: a.nodeId, hostname: 'web-1' });
    expect(await b.client.resolveHostname('web-1')).toMatchObject({
      type: 'resolve_hostname_ok',
      node_id: a.nodeId,
      address: formatAddr({ network: 0, node: a.nodeId }),
      public: false,
      hostname: 'web-1',
    });
    await expect(b.client.setHostname('web-1')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_HOSTNAME_TAKEN',
      message: expect.stringMatching(/already in use by node 1/),
    });
    for (const bad of [
      '-x',
      'x-',
      'UPPER',
      'a_b',
      'a'.repeat(64),
      'localhost',
      'backbone',
      'broadcast',
      'a.b',
    ]) {
      await expect(b.client.setHostname(bad)).rejects.toMatchObject({
        code: 'ERR_REGISTRY_HOSTNAME_INVALID',
      });
    }
    expect((await b.client.setHostname('a'.repeat(63))).hostname).toHaveLength(63);
    // Renaming frees the old name.
    await a.client.setHostname('web-2');
    expect((await b.client.resolveHostname('web-2')).node_id).toBe(a.nodeId);
    await expect(b.client.resolveHostname('web-1')).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    expect(await a.client.setHostname('')).toMatchObject({ hostname: '' });
    await expect(b.client.resolveHostname('web-2')).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
  });

  it('set_tags strips #, validates count/length/charset, replaces, clears', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    expect(await a.client.setTags(['#gpu', 'ml', 'gpu'])).toMatchObject({ tags: ['gpu', 'ml'] });
    expect((await a.client.lookup(a.nodeId)).tags).toEqual(['gpu', 'ml']);
    await expect(a.client.setTags(Array.from({ length: 11 }, (_, i) => `t${i}`))).rejects.toMatchObject({
      code: 'ERR_REGISTRY_TAGS_INVALID',
    });
    for (const bad of ['', '#', 'a'.repeat(33), 'Bad', 'a b', '-a', 'a-']) {
      await expect(a.client.setTags([bad])).rejects.toMatchObject({ code: 'ERR_REGISTRY_TAGS_INVALID' });
    }
    expect((await a.client.lookup(a.nodeId)).tags).toEqual(['gpu', 'ml']);
    expect(await a.client.setTags(['x'.repeat(32)])).toMatchObject({ tags: ['x'.repeat(32)] });
    expect(await a.client.setTags([])).toMatchObject({ tags: [] });
    expect((await a.client.lookup(a.nodeId)).tags).toBeUndefined();
    const raw = await RawConnection.open(server);
    expect(
      await raw.ask({
        type: 'set_tags',
        node_id: a.nodeId,
        tags: 'gpu',
        signature: a.id.sig(`set_tags:${a.nodeId}`),
      }),
    ).toMatchObject({ code: 'ERR_REGISTRY_INVALID_FIELD' });
    expect(
      await raw.ask({
        type: 'set_tags',
        node_id: a.nodeId,
        tags: [1],
        signature: a.id.sig(`set_tags:${a.nodeId}`),
      }),
    ).toMatchObject({ code: 'ERR_REGISTRY_INVALID_FIELD' });
  });

  it('set_task_exec toggles and shows in lookup only when true', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    expect(await a.client.setTaskExec(true)).toMatchObject({ node_id: a.nodeId, task_exec: true });
    expect((await a.client.lookup(a.nodeId)).task_exec).toBe(true);
    expect(await a.client.setTaskExec(false)).toMatchObject({ task_exec: false });
    expect((await a.client.lookup(a.nodeId)).task_exec).toBeUndefined();
  });
});

describe('rotate_key, punch, polo score, beacons', () => {
  it('rotate_key needs the current key; afterwards only the new key signs', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const next = makeIdentity();
    const ans = await a.client.rotateKey(next.publicKey, { newSigner: next });
    expect(ans).toMatchObject({ node_id: a.nodeId, public_key: next.publicKeyB64 });
    expect((await a.client.lookup(a.nodeId)).public_key).toBe(next.publicKeyB64);
    expect((await a.client.heartbeat()).node_id).toBe(a.nodeId);
    const oldSigned = clientFor(server, a.id);
    await expect(oldSigned.heartbeat({ nodeId: a.nodeId })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_SIGNATURE',
    });
    // The new key re-registers to the same ID; the old key does not.
    expect((await clientFor(server, next).register()).node_id).toBe(a.nodeId);
    expect((await clientFor(server, a.id).register()).node_id).not.toBe(a.nodeId);
  });

  it('rotate_key refuses a key held by another node and a bad key', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const b = await registerNode(server);
    await expect(a.client.rotateKey(b.id.publicKey)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_KEY_IN_USE',
    });
    await expect(a.client.rotateKey(Buffer.alloc(5))).rejects.toMatchObject({
      code: 'ERR_REGISTRY_KEY_INVALID',
    });
    expect(server.state.node(a.nodeId)?.publicKey).toBe(a.id.publicKeyB64);
  });

  it('punch returns both endpoints; requester must be a party; private peers need trust', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { listenAddr: ':1111' });
    const b = await registerNode(server, { listenAddr: ':2222', public: true });
    const c = await registerNode(server);
    expect(await a.client.punch(a.nodeId, b.nodeId)).toMatchObject({
      node_a: a.nodeId,
      node_a_addr: '127.0.0.1:1111',
      node_b: b.nodeId,
      node_b_addr: '127.0.0.1:2222',
    });
    await expect(c.client.punch(a.nodeId, b.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_FORBIDDEN',
    });
    await expect(b.client.punch(b.nodeId, a.nodeId)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_RESOLVE_DENIED',
    });
    await a.client.reportTrust(b.nodeId);
    expect((await b.client.punch(b.nodeId, a.nodeId)).node_b_addr).toBe('127.0.0.1:1111');
  });

  it('polo score: default 0, update by delta (may go negative), set, get; unknown node fails', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    expect((await a.client.getPoloScore(a.nodeId)).polo_score).toBe(0);
    expect((await a.client.updatePoloScore(a.nodeId, 5)).polo_score).toBe(5);
    expect((await a.client.updatePoloScore(a.nodeId, -12)).polo_score).toBe(-7);
    expect(await a.client.setPoloScore(a.nodeId, 2 ** 40)).toMatchObject({ polo_score: 2 ** 40 });
    expect((await a.client.lookup(a.nodeId)).polo_score).toBe(2 ** 40);
    await expect(a.client.getPoloScore(77)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    await expect(a.client.updatePoloScore(a.nodeId, 1.5)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_INVALID_FIELD',
    });
  });

  it('beacon_register / beacon_list with TTL', async () => {
    let now = 1_700_000_000_000;
    const server = await startTestRegistry({ clock: () => now });
    const c = clientFor(server);
    expect(await c.beaconRegister(7, '127.0.0.1:9001')).toMatchObject({ beacon_id: 7 });
    await c.beaconRegister(8, '[::1]:9002');
    expect((await c.beaconList()).beacons).toEqual([
      { id: 7, addr: '127.0.0.1:9001' },
      { id: 8, addr: '[::1]:9002' },
    ]);
    await expect(c.beaconRegister(0, '127.0.0.1:1')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_INVALID_FIELD',
    });
    await expect(c.beaconRegister(9, 'nohost')).rejects.toMatchObject({ code: 'ERR_REGISTRY_INVALID_FIELD' });
    now += 30_000;
    await c.beaconRegister(8, '[::1]:9002');
    now += 40_000;
    expect((await c.beaconList()).beacons).toEqual([{ id: 8, addr: '[::1]:9002' }]);
  });
});
