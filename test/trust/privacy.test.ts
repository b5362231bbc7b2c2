/**
 * Conformance A4 privacy_test with the trust manager: a private node's endpoint resolves only for peers it
 * trusts (or shares a network with), never for strangers, and not any more after a revoke. Public nodes resolve
 * for every registered node.
 */
import { describe, expect, it } from 'vitest';
import type { PilotNode } from '../../src/node/node.js';
import { fromPeer, nextBusEvent, startCluster, startManager } from './helpers.js';

async function canResolve(by: PilotNode, target: PilotNode): Promise<boolean> {
  try {
    const r = await by.registry.resolve(target.nodeId);
    return r.real_addr !== '';
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_REGISTRY_RESOLVE_DENIED') return false;
    throw err;
  }
}

describe('private nodes and trust', () => {
  it('a private node resolves only after trust, and not after revoke', async () => {
    const [a, b, c] = await startCluster(3); // all private (the default)
    const ta = await startManager(a, { directTimeoutMs: 300 });
    const tb = await startManager(b, { directTimeoutMs: 300 });

    expect(await canResolve(b, a)).toBe(false);
    expect(await canResolve(a, b)).toBe(false);
    expect((await b.resolver.resolve(a.nodeId)).endpoint).toBeNull();

    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId, 'let me see you');
    await pending;
    expect(await canResolve(b, a)).toBe(false); // a request alone grants nothing

    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb.approve(a.nodeId);
    await approved;
    expect(await canResolve(b, a)).toBe(true);
    expect(await canResolve(a, b)).toBe(true);
    // The manager invalidated the resolver's cached "no endpoint" answer.
    expect((await b.resolver.resolve(a.nodeId)).endpoint).not.toBeNull();
    // A third node is still a stranger.
    expect(await canResolve(c, a)).toBe(false);

    const byPeer = nextBusEvent(a.events, 'trust.revoked_by_peer', fromPeer(b.nodeId));
    await tb.revoke(a.nodeId);
    expect(await canResolve(b, a)).toBe(false);
    expect(await canResolve(a, b)).toBe(false);
    expect((await b.resolver.resolve(a.nodeId)).endpoint).toBeNull();
    // The tunnel B had to A carried the revoke message before B dropped it.
    await byPeer;
    expect(ta.isTrusted(b.nodeId)).toBeNull();
  });

  it('a public node resolves for any registered node without trust', async () => {
    const [a, b] = await startCluster(2);
    await a.registry.setVisibility(true);
    expect(await canResolve(b, a)).toBe(true);
    expect(await canResolve(a, b)).toBe(false);
  });
});
