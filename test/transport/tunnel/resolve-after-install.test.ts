/**
 * A directory lookup that finishes after the peer's own key exchange already installed a session keeps that
 * session and the endpoint its authenticated frames came from (it used to reset the peer and start another
 * exchange, which the confirmed peer ignores: a 'keying' row and a spurious 'kx-failed' while the session
 * worked).
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel-helpers.js';

describe('a late endpoint lookup after a session was installed', () => {
  it('the peer row ends keyed, with no kx-failed', async () => {
    const b = await makeNode(2, { kxRetryMs: 20, kxMaxAttempts: 4 });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let looked = false;
    const a = await makeNode(1, {
      kxRetryMs: 20,
      kxMaxAttempts: 4,
      endpoints: {
        resolveEndpoint: async () => {
          await gate;
          looked = true;
          return b.tunnel.address;
        },
      },
    });
    introduce(a, b);
    let kxFailed = 0;
    a.tunnel.on('kx-failed', () => kxFailed++);
    a.tunnel.send(datagram(1, 2, 'queued while resolving')); // A: Resolving
    b.tunnel.send(datagram(2, 1, 'b first')); // B's PILA installs a session at A
    await waitFor(() => b.received.length === 1 && a.received.length === 1, 3000, 'both delivered');
    // B has now seen an authenticated frame from A (confirmed): it no longer answers duplicates.
    release();
    await waitFor(() => looked, 3000, 'the lookup to finish');
    await new Promise((r) => setImmediate(r));
    expect(a.tunnel.peer(2)?.state).toBe('keyed');
    a.tunnel.send(datagram(1, 2, 'after the lookup'));
    await waitFor(() => b.received.length === 2, 3000, 'the next datagram');
    expect(a.tunnel.peer(2)?.state).toBe('keyed');
    expect(kxFailed).toBe(0);
  });
});
