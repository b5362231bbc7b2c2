/**
 * Audit 2: TIME_WAIT and the peer's FIN. The side that closed first waits in TIME_WAIT so it can acknowledge
 * the peer's FIN again when its ACK was lost. Each retransmitted FIN restarts that wait (RFC 793, TIME-WAIT
 * state): otherwise a peer whose FIN retransmissions have backed off past the wait gets a RST for a stream
 * that delivered everything.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/streams/connection.js';
import { ConnState } from '../../src/streams/state.js';
import { waitFor } from '../helpers/wait.js';
import { closeError, faultPair, within } from './faults/fault-helpers.js';

describe('audit2: TIME_WAIT', () => {
  it('a retransmitted FIN restarts TIME_WAIT, so the last closer still gets its ACK', async () => {
    // B's RTO is its floor (300 ms on loopback): its FIN goes out at 0, 0.3, 0.9 and 2.1 s. A's TIME_WAIT
    // (1.5 s, swept every 10 ms) has expired by 2.1 s unless the FINs at 0.3 and 0.9 s restarted it.
    const p = await faultPair({
      streams: { timeWaitMs: 1500, keepaliveMs: 40, minRtoMs: 300, initialRtoMs: 300 },
    });
    const l = await p.b.streams.listen(1400);
    const accepted = l.accept();
    const c = await p.a.streams.dial(p.b.addr, 1400);
    const s = await accepted;
    const aClosed = closeError(c);
    const bClosed = closeError(s);
    c.resume();
    s.resume();
    // A closes first; its FIN is acknowledged and B reads the end of the stream.
    c.end();
    await within(Promise.all([once(c, 'finish'), once(s, 'end')]), 5000, 'A half-closed');
    // Every packet from A to B is lost until B's third FIN retransmission is due.
    p.relay.setFaults({ drop: 1 }, {});
    let rtos = 0;
    const onRto = (conn: Connection): void => {
      if (conn === s && ++rtos === 3) p.relay.setFaults({}, {});
    };
    p.b.streams.on('rto', onRto);
    s.end();
    const [aErr, bErr] = await within(Promise.all([aClosed, bClosed]), 8000, 'both sides closed');
    p.b.streams.off('rto', onRto);
    expect(rtos).toBeGreaterThanOrEqual(3);
    expect(aErr).toBeNull();
    expect(bErr).toBeNull();
    expect(p.b.streams.counters.rstSent + p.a.streams.counters.rstSent).toBe(0);
    // A's TIME_WAIT still ends.
    await waitFor(() => p.a.streams.connections().every((x) => x.state !== ConnState.TIME_WAIT), 5000);
    expect(p.a.streams.connections()).toEqual([]);
    await l.close();
  });
});
