/**
 * The trust handshake between real nodes (conformance A4 handshake_test): pending → approve, pending → reject
 * with a reason, mutual requests, shared-network auto-approval, revoke, relay fallback.
 */
import { describe, expect, it } from 'vitest';
import { TrustState } from '../../src/node/trust/index.js';
import { waitFor } from '../helpers/wait.js';
import {
  fromPeer,
  nextBusEvent,
  registryAddr,
  startAdminRegistry,
  startCluster,
  startManager,
  managerFor,
  startNode,
  tempDir,
} from './helpers.js';

describe('trust handshake (direct, port 444)', () => {
  it('pending → approve: both sides trust each other, mutual', async () => {
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = await startManager(b);

    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    const received = nextBusEvent(b.events, 'handshake.received', fromPeer(a.nodeId));
    const sent = nextBusEvent(a.events, 'handshake.sent', fromPeer(b.nodeId));
    expect(await ta.send(b.nodeId, 'let us talk')).toEqual({ status: 'sent', node_id: b.nodeId });
    expect(await sent).toMatchObject({ via: 'direct' });
    expect(await received).toMatchObject({ justification: 'let us talk', via: 'direct' });
    expect(await pending).toMatchObject({ justification: 'let us talk' });

    const rows = tb.pending().pending;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      node_id: a.nodeId,
      public_key: a.keyPair.publicKey.toString('base64'),
      justification: 'let us talk',
    });
    expect(Math.abs(rows[0].received_at - Date.now() / 1000)).toBeLessThan(30);
    expect(ta.stateOf(b.nodeId)).toBe(TrustState.Outgoing);
    expect(tb.isTrusted(a.nodeId)).toBeNull();

    const approvedAtA = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    const approvedAtB = nextBusEvent(b.events, 'handshake.approved', fromPeer(a.nodeId));
    expect(await tb.approve(a.nodeId)).toEqual({ status: 'approved', node_id: a.nodeId });
    expect(await approvedAtB).toMatchObject({ by: 'local' });
    expect(await approvedAtA).toMatchObject({ by: 'peer' });

    expect(tb.pending().pending).toEqual([]);
    expect(tb.isTrusted(a.nodeId)).not.toBeNull();
    expect(ta.isTrusted(b.nodeId)?.name).toMatch(/^0:0000\./);
    const ra = ta.trusted().trusted;
    expect(ra).toHaveLength(1);
    expect(ra[0]).toMatchObject({
      node_id: b.nodeId,
      public_key: b.keyPair.publicKey.toString('base64'),
      mutual: true,
      network: 0,
    });
    expect(Number.isNaN(Date.parse(ra[0].approved_at))).toBe(false);
    expect(tb.trusted().trusted[0]).toMatchObject({ node_id: a.nodeId, mutual: true });
    // approve again: nothing pending any more.
    await expect(tb.approve(a.nodeId)).rejects.toMatchObject({ code: 'ERR_TRUST_PENDING_NOT_FOUND' });
  });

  it('pending → reject: the requester learns the reason and forgets its request', async () => {
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = await startManager(b);
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId, 'please');
    await pending;

    const rejectedAtA = nextBusEvent(a.events, 'handshake.rejected', fromPeer(b.nodeId));
    const rejectedAtB = nextBusEvent(b.events, 'handshake.rejected', fromPeer(a.nodeId));
    expect(await tb.reject(a.nodeId, 'not today')).toEqual({ status: 'rejected', node_id: a.nodeId });
    expect(await rejectedAtB).toMatchObject({ by: 'local', reason: 'not today' });
    expect(await rejectedAtA).toMatchObject({ by: 'peer', reason: 'not today' });
    expect(ta.stateOf(b.nodeId)).toBe(TrustState.None);
    expect(tb.pending().pending).toEqual([]);
    expect(ta.trusted().trusted).toEqual([]);
    expect(tb.trusted().trusted).toEqual([]);
    await expect(tb.reject(a.nodeId, 'again')).rejects.toMatchObject({
      code: 'ERR_TRUST_PENDING_NOT_FOUND',
    });
  });

  it('mutual requests auto-approve', async () => {
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = await startManager(b);
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId, 'from a');
    await pending;

    const auto = nextBusEvent(a.events, 'handshake.auto_approved', fromPeer(b.nodeId));
    const approvedAtB = nextBusEvent(b.events, 'handshake.approved', fromPeer(a.nodeId));
    await tb.send(a.nodeId, 'from b');
    expect(await auto).toMatchObject({ reason: 'mutual' });
    expect(await approvedAtB).toMatchObject({ by: 'peer' });
    expect(ta.trusted().trusted[0]).toMatchObject({ node_id: b.nodeId, mutual: true });
    expect(tb.trusted().trusted[0]).toMatchObject({ node_id: a.nodeId, mutual: true });
    // B's pending request from A is settled by the trust.
    expect(tb.pending().pending).toEqual([]);
  });

  it('a request from an already trusted peer is answered with accept', async () => {
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = await startManager(b);
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId);
    await pending;
    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb.approve(a.nodeId);
    await approved;

    // A asks again (say, it lost its state): B still trusts A and accepts at once, no pending.
    const received = nextBusEvent(b.events, 'handshake.received', fromPeer(a.nodeId));
    await ta.send(b.nodeId, 'again');
    await received;
    await waitFor(() => ta.stateOf(b.nodeId) === TrustState.Trusted, 5000, 'A trusted B');
    expect(tb.pending().pending).toEqual([]);
  });

  it('restoreRegistryTrust re-reports local trust pairs; checker() exposes only isTrusted', async () => {
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = await startManager(b);
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId);
    await pending;
    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb.approve(a.nodeId);
    await approved;
    // The registry loses the pair (say, it restarted without a store); the node restores it.
    await a.registry.revokeTrust(b.nodeId);
    await expect(a.registry.revokeTrust(b.nodeId)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NO_TRUST' });
    expect(await ta.restoreRegistryTrust()).toBe(1);
    await a.registry.revokeTrust(b.nodeId); // the pair exists again

    const checker = ta.checker();
    expect(Object.keys(checker)).toEqual(['isTrusted']);
    expect(Object.isFrozen(checker)).toBe(true);
    expect(checker.isTrusted(b.nodeId)).toEqual(ta.isTrusted(b.nodeId));
    expect(checker.isTrusted(12345)).toBeNull();
  });

  it('shared network auto-approves with the network ID', async () => {
    const token = 'admin-secret';
    const reg = await startAdminRegistry(token);
    const dir = tempDir();
    const a = await startNode(dir, { registry: registryAddr(reg) });
    const b = await startNode(dir, { registry: registryAddr(reg) });
    const net = await a.registry.createNetwork({ name: 'lab', adminToken: token, nodeId: a.nodeId });
    await a.registry.joinNetwork(net.network_id, { adminToken: token, nodeId: b.nodeId });
    const ta = await startManager(a);
    const tb = await startManager(b);

    const auto = nextBusEvent(b.events, 'handshake.auto_approved', fromPeer(a.nodeId));
    const approvedAtA = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await ta.send(b.nodeId, 'same lab');
    expect(await auto).toMatchObject({ reason: 'same_network', network: net.network_id });
    expect(await approvedAtA).toMatchObject({ by: 'peer' });
    expect(tb.trusted().trusted[0]).toMatchObject({ node_id: a.nodeId, network: net.network_id });
    expect(ta.trusted().trusted[0]).toMatchObject({ node_id: b.nodeId, mutual: true });
    expect(tb.pending().pending).toEqual([]);
  });

  it('revoke: the peer forgets the trust, both tunnels are torn down, the registry pair is gone', async () => {
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = await startManager(b);
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId);
    await pending;
    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb.approve(a.nodeId);
    await approved;
    expect(a.tunnel.peer(b.nodeId)).not.toBeNull();

    const byPeer = nextBusEvent(b.events, 'trust.revoked_by_peer', fromPeer(a.nodeId));
    const revoked = nextBusEvent(a.events, 'trust.revoked', fromPeer(b.nodeId));
    expect(await ta.revoke(b.nodeId)).toEqual({ status: 'revoked', node_id: b.nodeId });
    await revoked;
    await byPeer;
    expect(ta.isTrusted(b.nodeId)).toBeNull();
    expect(tb.isTrusted(a.nodeId)).toBeNull();
    expect(ta.trusted().trusted).toEqual([]);
    expect(tb.trusted().trusted).toEqual([]);
    await waitFor(() => a.tunnel.peer(b.nodeId) === null, 3000, 'A dropped its tunnel to B');
    await waitFor(() => b.tunnel.peer(a.nodeId) === null, 3000, 'B dropped its tunnel to A');
    // The registry pair is gone: revoking it again there fails.
    await expect(a.registry.revokeTrust(b.nodeId)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NO_TRUST' });
    await expect(ta.revoke(b.nodeId)).rejects.toMatchObject({ code: 'ERR_TRUST_NOT_FOUND' });
  });
});

describe('trust handshake (registry relay)', () => {
  it('falls back to the relay when the target does not listen on 444 yet; poll delivers it', async () => {
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = managerFor(b); // not started: nothing listens on B:444

    const sent = nextBusEvent(a.events, 'handshake.sent', fromPeer(b.nodeId));
    await ta.send(b.nodeId, 'via the registry');
    expect(await sent).toMatchObject({ via: 'relay' });
    expect(ta.counters()).toMatchObject({ sentRelay: 1, sentDirect: 0 });

    const received = nextBusEvent(b.events, 'handshake.received', fromPeer(a.nodeId));
    await tb.start(); // polls at once
    expect(await received).toMatchObject({ via: 'relay', justification: 'via the registry' });
    await waitFor(() => tb.pending().pending.length === 1, 5000, 'pending at B');
    expect(tb.pending().pending[0]).toMatchObject({
      node_id: a.nodeId,
      justification: 'via the registry',
      public_key: a.keyPair.publicKey.toString('base64'),
    });
    expect(tb.counters().relayedRequests).toBe(1);

    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb.approve(a.nodeId);
    await approved;
    expect(ta.trusted().trusted[0]).toMatchObject({ node_id: b.nodeId, mutual: true });
  });

  it('private nodes that cannot reach each other complete the handshake through the relay', async () => {
    const [a, b] = await startCluster(2); // private by default
    const ta = await startManager(a, { directTimeoutMs: 300 });
    const tb = await startManager(b, { directTimeoutMs: 300 });

    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    const sent = nextBusEvent(a.events, 'handshake.sent', fromPeer(b.nodeId));
    await ta.send(b.nodeId, 'private hello');
    expect(await sent).toMatchObject({ via: 'relay' });
    await pending;

    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb.approve(a.nodeId);
    await approved;
    expect(ta.isTrusted(b.nodeId)).not.toBeNull();
    expect(tb.isTrusted(a.nodeId)).not.toBeNull();
  });

  it('a relayed reject drops the outgoing request', async () => {
    const [a, b] = await startCluster(2);
    const ta = await startManager(a, { directTimeoutMs: 300 });
    const tb = await startManager(b, { directTimeoutMs: 300 });
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId, 'private hello');
    await pending;
    const rejected = nextBusEvent(a.events, 'handshake.rejected', fromPeer(b.nodeId));
    await tb.reject(a.nodeId, 'no');
    expect(await rejected).toMatchObject({ by: 'peer' });
    expect(ta.stateOf(b.nodeId)).toBe(TrustState.None);
  });

  it('send fails with a typed error when the target exists nowhere', async () => {
    const [a] = await startCluster(1);
    const ta = await startManager(a, { directTimeoutMs: 300 });
    await expect(ta.send(999_999, 'hello?')).rejects.toMatchObject({ code: 'ERR_TRUST_SEND_FAILED' });
    expect(ta.stateOf(999_999)).toBe(TrustState.None);
    expect(ta.counters().sendFailed).toBe(1);
  });
});
