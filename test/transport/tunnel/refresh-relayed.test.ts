/**
 * `refreshEndpoint` (a SYN retry or RTO makes the node look a peer up again) on a peer that is on the relay:
 * the new directory endpoint is recorded, but the peer stays on the relay. The relay was chosen because the
 * direct path failed, and nothing says the new endpoint is reachable; before, the peer silently left the relay
 * (no 'direct' event) for a path that may not work.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait.js';
import { makeNode } from './tunnel-helpers.js';

describe('refreshing the endpoint of a relayed peer', () => {
  it('records the new endpoint and keeps the peer on the relay', async () => {
    const a = await makeNode(1);
    a.tunnel.setBeacon({ host: '127.0.0.1', port: 9 }); // a relay exists (never answers: no traffic needed)
    a.dir.set(2, { publicKey: Buffer.alloc(32, 1), endpoint: { host: '127.0.0.1', port: 40001 } });
    a.tunnel.addPeer(2, { host: '127.0.0.1', port: 40001 });
    a.tunnel.setRelay(2, true);
    const moves: string[] = [];
    a.tunnel.on('endpoint', (id: number, ep: { host: string; port: number }) =>
      moves.push(`${id} ${ep.host}:${ep.port}`),
    );
    a.dir.set(2, { endpoint: { host: '127.0.0.1', port: 40002 } }); // the peer restarted elsewhere
    a.tunnel.refreshEndpoint(2);
    await waitFor(() => moves.length === 1, 2000, 'endpoint event');
    expect(moves).toEqual(['2 127.0.0.1:40002']);
    expect(a.tunnel.peer(2)?.endpoint).toBe('127.0.0.1:40002');
    expect(a.tunnel.peer(2)?.relay).toBe(true);
  });
});
