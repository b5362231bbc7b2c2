/**
 * Audit: an IPC operation whose trust.json write fails must not leave a half-made change behind. Before, the
 * change stayed in memory while the caller got ERR_TRUST_STORE_IO and the network half (report_trust, the
 * direct answer, the revoke message, the registry pair, the tunnel) never ran: `approve` left the peer
 * trusted locally but never told it, a retry said ERR_TRUST_PENDING_NOT_FOUND; `revoke` forgot the peer
 * locally while its registry pair and tunnel stayed, and a retry said ERR_TRUST_NOT_FOUND, so the revocation
 * could not be completed at all. Now a failed write undoes the change: the caller's error means "nothing
 * changed", and the same call works once the disk is writable again.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrustState, type TrustFileJson } from '../../src/node/trust/index.js';
import { fromPeer, nextBusEvent, startCluster, startManager, tempDir } from './helpers.js';

/** Make every later write of `path` fail (a non-empty directory cannot be renamed over, even by root). */
function breakStore(path: string): void {
  rmSync(path, { force: true });
  mkdirSync(path);
  writeFileSync(join(path, 'blocker'), 'x');
}

function repairStore(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

function readStore(path: string): TrustFileJson {
  return JSON.parse(readFileSync(path, 'utf8')) as TrustFileJson;
}

/** Nodes A and B with trust managers (B's store in a temp file) and A's handshake request pending at B. */
async function pendingAtB() {
  const dir = tempDir();
  const [a, b] = await startCluster(2, { public: true });
  const ta = await startManager(a);
  const storeB = join(dir, 'trust.json');
  const tb = await startManager(b, { storePath: storeB });
  const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
  await ta.send(b.nodeId, 'hi');
  await pending;
  return { a, b, ta, tb, storeB };
}

describe('trust.json write failures', () => {
  it('approve: the request stays pending, and approving again after the repair works', async () => {
    const { a, b, tb, storeB } = await pendingAtB();

    breakStore(storeB);
    await expect(tb.approve(a.nodeId)).rejects.toMatchObject({ code: 'ERR_TRUST_STORE_IO' });
    expect(tb.stateOf(a.nodeId)).toBe(TrustState.Pending);
    expect(tb.isTrusted(a.nodeId)).toBeNull();
    expect(tb.pending().pending.map((p) => p.node_id)).toEqual([a.nodeId]);

    repairStore(storeB);
    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await expect(tb.approve(a.nodeId)).resolves.toEqual({ status: 'approved', node_id: a.nodeId });
    expect(await approved).toMatchObject({ by: 'peer' });
    expect(readStore(storeB).trusted.map((t) => t.node_id)).toEqual([a.nodeId]);
  });

  it('revoke: the peer stays trusted, and revoking again after the repair completes the revocation', async () => {
    const { a, b, ta, tb, storeB } = await pendingAtB();
    const approvedAtA = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb.approve(a.nodeId);
    await approvedAtA;

    breakStore(storeB);
    await expect(tb.revoke(a.nodeId)).rejects.toMatchObject({ code: 'ERR_TRUST_STORE_IO' });
    expect(tb.stateOf(a.nodeId)).toBe(TrustState.Trusted);
    expect(ta.isTrusted(b.nodeId)).not.toBeNull();

    repairStore(storeB);
    const byPeer = nextBusEvent(a.events, 'trust.revoked_by_peer', fromPeer(b.nodeId));
    await expect(tb.revoke(a.nodeId)).resolves.toEqual({ status: 'revoked', node_id: a.nodeId });
    await byPeer;
    expect(ta.isTrusted(b.nodeId)).toBeNull();
    expect(readStore(storeB).trusted).toEqual([]);
  });

  it('reject: the request stays pending', async () => {
    const { a, tb, storeB } = await pendingAtB();

    breakStore(storeB);
    await expect(tb.reject(a.nodeId, 'no')).rejects.toMatchObject({ code: 'ERR_TRUST_STORE_IO' });
    expect(tb.stateOf(a.nodeId)).toBe(TrustState.Pending);
    repairStore(storeB);
    await expect(tb.reject(a.nodeId, 'no')).resolves.toEqual({ status: 'rejected', node_id: a.nodeId });
    expect(tb.stateOf(a.nodeId)).toBe(TrustState.None);
  });

  it('send: no outgoing mark is left behind', async () => {
    const dir = tempDir();
    const [a, b] = await startCluster(2, { public: true });
    const storeA = join(dir, 'trust.json');
    const ta = await startManager(a, { storePath: storeA });
    const tb = await startManager(b);

    breakStore(storeA);
    await expect(ta.send(b.nodeId, 'hi')).rejects.toMatchObject({ code: 'ERR_TRUST_STORE_IO' });
    expect(ta.stateOf(b.nodeId)).toBe(TrustState.None);
    expect(tb.stateOf(a.nodeId)).toBe(TrustState.None);
  });
});
