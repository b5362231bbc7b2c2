/**
 * A responder keeps answering a repeated (duplicate) key exchange until the peer's traffic confirms the
 * session (rate-limited, not capped by count): when its reply and several answers to the initiator's
 * retries are lost, the initiator must still get the responder's key once the path recovers. (With a cap of
 * 3 answers, the initiator's later exchanges were all ignored as duplicates: a deadlock until a restart.)
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { frameKind } from '../../../src/transport/frames.js';
import { UdpRelay } from '../../helpers/udp-relay.js';
import { waitFor } from '../../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel-helpers.js';

describe('duplicate key exchanges', () => {
  it('the initiator gets keys once the path recovers after 4 lost replies', async () => {
    const a = await makeNode(1, { kxRetryMs: 40, kxMaxAttempts: 8 });
    const b = await makeNode(2, { kxRetryMs: 40, kxMaxAttempts: 8 });
    introduce(a, b);
    // A reaches B through a relay; B's answers come back through it. Drop B -> A key exchanges for now.
    let dropKx = true;
    let droppedKx = 0;
    const relay = await UdpRelay.create(b.tunnel.address, {
      up: {},
      down: {
        tap: (m) => {
          if (dropKx && frameKind(m) === 'PILA') {
            droppedKx++;
            return null;
          }
          return m;
        },
      },
    });
    onTestFinished(() => relay.close());

    a.tunnel.addPeer(2, relay.address);
    // B installs A's key (answers once) and answers A's retries three more times: all lost.
    await waitFor(() => droppedKx >= 4, 5000, '4 lost replies from B');
    dropKx = false;
    expect(b.tunnel.hasSession(1)).toBe(true);
    expect(a.tunnel.hasSession(2)).toBe(false);

    // The path works again in both directions. Both sides try to talk.
    a.tunnel.send(datagram(1, 2, 'from a'));
    b.tunnel.send(datagram(2, 1, 'from b'));
    await waitFor(() => a.tunnel.hasSession(2), 5000, 'A to get B key after the path recovered').catch(
      (err: Error) => {
        throw new Error(
          `${err.message}; A peer=${JSON.stringify(a.tunnel.peer(2)?.state)} ` +
            `B drops=${JSON.stringify(b.tunnel.peer(1)?.counters.drops)} ` +
            `A drops no_session=${a.tunnel.counters().drops.no_session} kx_timeout=${a.tunnel.counters().drops.kx_timeout}`,
        );
      },
    );
    // Traffic sent while the path was down is gone (datagrams); new traffic flows both ways.
    await waitFor(() => b.tunnel.peer(1)?.state === 'keyed', 5000, 'B keyed');
    a.tunnel.send(datagram(1, 2, 'again from a'));
    b.tunnel.send(datagram(2, 1, 'again from b'));
    await waitFor(() => a.received.length > 0 && b.received.length > 0, 5000, 'both datagrams');
  });
});
