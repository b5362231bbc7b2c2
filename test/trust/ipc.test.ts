/**
 * The trust manager behind the IPC socket, wired the way the composition wires it (DaemonControl's handshake
 * methods routed to the manager): reference §8 sub-commands and JSON shapes through a real driver.
 */
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { connect, createIpcServer, type DaemonControl } from '../../src/ipc/index.js';
import type { PilotNode } from '../../src/node/node.js';
import { createNodeControl } from '../../src/node/node-control.js';
import type { TrustManager } from '../../src/node/trust/index.js';
import { fromPeer, nextBusEvent, startCluster, startManager, tempDir } from './helpers.js';

/** The node's DaemonControl with the handshake calls routed to `trust` (the wiring proposed to the lead). */
function controlWithTrust(node: PilotNode, trust: TrustManager): DaemonControl {
  return {
    ...createNodeControl(node),
    handshakeSend: (id, justification) => trust.send(id, justification),
    handshakeApprove: (id) => trust.approve(id),
    handshakeReject: (id, reason) => trust.reject(id, reason),
    handshakePending: () => trust.pending(),
    handshakeTrusted: () => trust.trusted(),
    handshakeRevoke: (id) => trust.revoke(id),
  };
}

async function driverFor(node: PilotNode, trust: TrustManager, dir: string) {
  const socketPath = join(dir, `${node.nodeId}.sock`);
  const server = await createIpcServer({
    socketPath,
    streams: node.streams,
    control: controlWithTrust(node, trust),
    logger: silentLogger,
  });
  onTestFinished(() => server.close());
  const drv = await connect(socketPath);
  onTestFinished(() => drv.close());
  return drv;
}

describe('handshake IPC commands', () => {
  it('send / pending / approve / trusted / revoke with the reference shapes', async () => {
    const dir = tempDir();
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = await startManager(b);
    const da = await driverFor(a, ta, dir);
    const db = await driverFor(b, tb, dir);

    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    expect(await da.handshake(b.nodeId, 'over ipc')).toEqual({ status: 'sent', node_id: b.nodeId });
    await pending;
    const p = (await db.pendingHandshakes()) as { pending: Record<string, unknown>[] };
    expect(p.pending).toHaveLength(1);
    expect(Object.keys(p.pending[0]).sort()).toEqual([
      'justification',
      'node_id',
      'public_key',
      'received_at',
    ]);
    expect(p.pending[0]).toMatchObject({ node_id: a.nodeId, justification: 'over ipc' });
    expect(typeof p.pending[0].received_at).toBe('number');

    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    expect(await db.approveHandshake(a.nodeId)).toEqual({ status: 'approved', node_id: a.nodeId });
    await approved;
    const t = (await da.trustedPeers()) as { trusted: Record<string, unknown>[] };
    expect(t.trusted).toHaveLength(1);
    expect(Object.keys(t.trusted[0]).sort()).toEqual([
      'approved_at',
      'mutual',
      'network',
      'node_id',
      'public_key',
    ]);
    expect(t.trusted[0]).toMatchObject({ node_id: b.nodeId, mutual: true, network: 0 });

    const byPeer = nextBusEvent(b.events, 'trust.revoked_by_peer', fromPeer(a.nodeId));
    expect(await da.revokeTrust(b.nodeId)).toEqual({ status: 'revoked', node_id: b.nodeId });
    await byPeer;
    expect(await db.trustedPeers()).toEqual({ trusted: [] });
    // Errors come back as daemon errors.
    await expect(da.revokeTrust(b.nodeId)).rejects.toThrow(/not trusted/);
    await expect(db.approveHandshake(a.nodeId)).rejects.toThrow(/no pending handshake/);
  });

  it('reject with a reason over IPC', async () => {
    const dir = tempDir();
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const tb = await startManager(b);
    const da = await driverFor(a, ta, dir);
    const db = await driverFor(b, tb, dir);
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await da.handshake(b.nodeId, 'hi');
    await pending;
    const rejected = nextBusEvent(a.events, 'handshake.rejected', fromPeer(b.nodeId));
    expect(await db.rejectHandshake(a.nodeId, 'who are you')).toEqual({
      status: 'rejected',
      node_id: a.nodeId,
    });
    expect(await rejected).toMatchObject({ reason: 'who are you' });
    expect(await db.pendingHandshakes()).toEqual({ pending: [] });
  });
});
