/**
 * The peer table under churn: it is bounded (`maxPeers`), and a row that holds nothing (no session, no
 * queued packets, no lookup or key exchange in progress; e.g. a peer whose key exchange failed) gives way to
 * a new peer when the table is full. Rows that hold a session or queued packets are kept, and no callback or
 * event follows `close()`.
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel/tunnel-helpers.js';

async function silentSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

describe('the peer table under churn', () => {
  it('rows of peers whose key exchange failed give way to new peers when the table is full', async () => {
    const a = await makeNode(1, { maxPeers: 2, kxRetryMs: 10, kxMaxAttempts: 2 });
    const b = await makeNode(2);
    introduce(a, b);
    // Two peers that never answer (a bound socket that drops everything).
    const dead = await silentSocket();
    const deadEp = { host: '127.0.0.1', port: dead.address().port };
    a.dir.set(7, { endpoint: deadEp });
    a.dir.set(8, { endpoint: deadEp });
    const failed = new Set<number>();
    a.tunnel.on('kx-failed', (id: number) => failed.add(id));
    expect(a.tunnel.send(datagram(1, 7, 'x'))).toBe(true);
    expect(a.tunnel.send(datagram(1, 8, 'y'))).toBe(true);
    await waitFor(() => failed.size === 2, 3000, 'both key exchanges to fail');
    expect(a.tunnel.counters().drops.kx_timeout).toBe(2);

    // The table is full of dead rows; a live peer must still be reachable.
    expect(a.tunnel.send(datagram(1, 2, 'to a live peer'))).toBe(true);
    await waitFor(() => b.received.length === 1, 3000, 'delivery to the live peer');
    expect(a.tunnel.counters().peers).toBeLessThanOrEqual(2);
    expect(a.tunnel.peer(2)?.state).toBe('keyed');
  });

  it('rows with a session or queued packets are not evicted: the new peer is refused and counted', async () => {
    const a = await makeNode(1, { maxPeers: 2, kxRetryMs: 1000, kxMaxAttempts: 8 });
    const b = await makeNode(2);
    introduce(a, b);
    const dead = await silentSocket();
    a.dir.set(7, { endpoint: { host: '127.0.0.1', port: dead.address().port } });
    a.dir.set(8, { endpoint: { host: '127.0.0.1', port: dead.address().port } });
    a.tunnel.send(datagram(1, 2, 'keyed'));
    await waitFor(() => b.received.length === 1, 3000, 'a session with B');
    a.tunnel.send(datagram(1, 7, 'queued')); // keying, one packet queued
    const before = a.tunnel.counters().drops.peer_table_full;
    expect(a.tunnel.send(datagram(1, 8, 'refused'))).toBe(false);
    expect(a.tunnel.counters().drops.peer_table_full).toBe(before + 1);
    expect(a.tunnel.hasSession(2)).toBe(true);
    expect(a.tunnel.peer(7)?.queued).toBe(1);
  });

  it('no peer event after close (setRelay on a closed tunnel)', async () => {
    const a = await makeNode(1);
    let peers = 0;
    a.tunnel.on('peer', () => peers++);
    await a.tunnel.close();
    a.tunnel.setRelay(42, true);
    expect(peers).toBe(0);
    expect(a.tunnel.peer(42)).toBeNull();
  });
});
