/**
 * Signed requests: every challenge string of reference §7.2 is checked, forgeries are refused, and the
 * verified-signature cache never accepts a signature for anything but the exact (key, challenge) it verified.
 */
import { describe, expect, it } from 'vitest';
import { SignatureVerifier } from '../../src/registry/signature-verifier.js';
import { makeIdentity, RawConnection, registerNode, startTestRegistry } from './helpers.js';

describe('signature checks over the wire', () => {
  it('every signed request type refuses a missing, malformed, foreign or wrong-challenge signature', async () => {
    const server = await startTestRegistry({ adminToken: 'adm' });
    const a = await registerNode(server, { public: true });
    const b = await registerNode(server, { public: true });
    const { network_id: net } = await a.client.createNetwork({
      name: 'n',
      adminToken: 'adm',
      nodeId: a.nodeId,
    });
    const A = a.nodeId;
    const B = b.nodeId;
    const mallory = makeIdentity();
    const cases: Array<{ msg: Record<string, unknown>; challenge: string }> = [
      { msg: { type: 'resolve', node_id: B, requester_id: A }, challenge: `resolve:${A}:${B}` },
      { msg: { type: 'heartbeat', node_id: A }, challenge: `heartbeat:${A}` },
      { msg: { type: 'deregister', node_id: A }, challenge: `deregister:${A}` },
      { msg: { type: 'set_visibility', node_id: A, public: false }, challenge: `set_visibility:${A}` },
      { msg: { type: 'set_hostname', node_id: A, hostname: 'x' }, challenge: `set_hostname:${A}` },
      { msg: { type: 'set_tags', node_id: A, tags: ['t'] }, challenge: `set_tags:${A}` },
      { msg: { type: 'set_task_exec', node_id: A, enabled: true }, challenge: `set_task_exec:${A}` },
      { msg: { type: 'report_trust', node_id: A, peer_id: B }, challenge: `report_trust:${A}:${B}` },
      { msg: { type: 'poll_handshakes', node_id: A }, challenge: `poll_handshakes:${A}` },
      { msg: { type: 'punch', requester_id: A, node_a: A, node_b: B }, challenge: `punch:${A}:${B}` },
      {
        msg: { type: 'request_handshake', from_node_id: A, to_node_id: B, justification: '' },
        challenge: `handshake:${A}:${B}`,
      },
      {
        msg: { type: 'respond_handshake', node_id: A, peer_id: B, accept: true },
        challenge: `respond:${A}:${B}`,
      },
      { msg: { type: 'leave_network', node_id: A, network_id: net }, challenge: `leave_network:${A}:${net}` },
      { msg: { type: 'poll_invites', node_id: A }, challenge: `poll_invites:${A}` },
      {
        msg: { type: 'rotate_key', node_id: A, new_public_key: mallory.publicKeyB64 },
        challenge: `rotate:${A}`,
      },
    ];
    const raw = await RawConnection.open(server);
    const before = JSON.stringify(server.state.node(A)?.toJson());
    for (const { msg, challenge } of cases) {
      const forged = [
        undefined,
        'not-base64!',
        Buffer.alloc(64).toString('base64'),
        mallory.sig(challenge), // right challenge, wrong key
        a.id.sig(`${challenge}x`), // right key, other challenge
        a.id.sig(challenge).slice(0, 40),
      ];
      for (const signature of forged) {
        const ans = await raw.ask({ ...msg, signature });
        expect(ans, `${String(msg.type)} with ${String(signature)}`).toMatchObject({
          type: 'error',
          code: 'ERR_REGISTRY_SIGNATURE',
        });
      }
      // A signature field of the wrong type is also a signature error.
      expect(await raw.ask({ ...msg, signature: 42 })).toMatchObject({ code: 'ERR_REGISTRY_SIGNATURE' });
    }
    expect(JSON.stringify(server.state.node(A)?.toJson())).toBe(before);
    expect(server.state.hasTrust(A, B)).toBe(false);
    // The genuine signatures all work (rotate_key last: it changes the key).
    for (const { msg, challenge } of cases.filter((c) => c.msg.type !== 'deregister')) {
      const ans = await raw.ask({ ...msg, signature: a.id.sig(challenge) });
      expect(ans.type, String(msg.type)).toBe(`${String(msg.type)}_ok`);
    }
  });

  it("a node cannot act with another node's valid signature", async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const b = await registerNode(server);
    const raw = await RawConnection.open(server);
    // b's genuine heartbeat signature replayed for a.
    const ans = await raw.ask({
      type: 'heartbeat',
      node_id: a.nodeId,
      signature: b.id.sig(`heartbeat:${b.nodeId}`),
    });
    expect(ans).toMatchObject({ code: 'ERR_REGISTRY_SIGNATURE' });
    const ok = await raw.ask({
      type: 'heartbeat',
      node_id: b.nodeId,
      signature: b.id.sig(`heartbeat:${b.nodeId}`),
    });
    expect(ok.type).toBe('heartbeat_ok');
  });
});

describe('SignatureVerifier cache', () => {
  it('verifies once per distinct triple and never reuses a result for another key or challenge', () => {
    const v = new SignatureVerifier({ verifyCacheSize: 100, keyCacheSize: 10 });
    const a = makeIdentity();
    const b = makeIdentity();
    const sig = a.sig('heartbeat:1');
    v.check(a.publicKeyB64, 'heartbeat:1', sig);
    v.check(a.publicKeyB64, 'heartbeat:1', sig);
    v.check(a.publicKeyB64, 'heartbeat:1', sig);
    expect(v.stats.verifications).toBe(1);
    expect(v.stats.cacheHits).toBe(2);
    expect(() => v.check(b.publicKeyB64, 'heartbeat:1', sig)).toThrow(
      expect.objectContaining({ code: 'ERR_REGISTRY_SIGNATURE' }),
    );
    expect(() => v.check(a.publicKeyB64, 'heartbeat:2', sig)).toThrow(
      expect.objectContaining({ code: 'ERR_REGISTRY_SIGNATURE' }),
    );
    expect(v.stats.verifications).toBe(3);
    expect(v.stats.failures).toBe(2);
  });

  it('with the cache disabled every request is verified', () => {
    const v = new SignatureVerifier({ verifyCacheSize: 0, keyCacheSize: 1 });
    const a = makeIdentity();
    const sig = a.sig('x');
    v.check(a.publicKeyB64, 'x', sig);
    v.check(a.publicKeyB64, 'x', sig);
    expect(v.stats.verifications).toBe(2);
  });

  it('a signed heartbeat over the wire is verified once, then served from the cache', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const base = server.stats().signatureVerifications;
    for (let i = 0; i < 5; i++) await a.client.heartbeat();
    const s = server.stats();
    expect(s.signatureVerifications - base).toBe(1);
    expect(s.signatureCacheHits).toBeGreaterThanOrEqual(4);
  });
});
