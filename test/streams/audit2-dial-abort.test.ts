/**
 * Audit 2: a dial that gives up while its SYN is unanswered (abort, timeout) must reset the stream the
 * listener already counts as established (it does at the SYN, as the reference does). Without a RST that
 * stream sits in the accept queue, looking alive, until the idle timeout.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { closeError, faultPair, liveConns, within } from './faults/fault-helpers.js';

async function warmUp(p: Awaited<ReturnType<typeof faultPair>>): Promise<void> {
  // Key exchange done before the faults start: every later packet is stream traffic.
  await p.a.streams.ping(p.b.addr, { timeoutMs: 2000 });
}

describe('audit2: dial abandoned during SYN retransmission', () => {
  it('an aborted dial resets the stream the listener already queued', async () => {
    const p = await faultPair();
    await warmUp(p);
    const l = await p.b.streams.listen(1100);
    const accepted = l.accept();
    // The SYN reaches B, every answer (SYN-ACK) is lost.
    p.relay.setFaults({}, { drop: 1 });
    const ac = new AbortController();
    const dial = p.a.streams.dial(p.b.addr, 1100, { signal: ac.signal });
    const dialErr = dial.then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    const s: Stream = await within(accepted, 5000, 'B accepts at the SYN');
    const closed = closeError(s);
    ac.abort();
    expect((await dialErr)?.code).toBe('ERR_ABORTED');
    expect((await within(closed, 3000, 'accepted stream reset'))?.code).toBe('ERR_CONNECTION_RESET');
    expect(liveConns(p.a)).toEqual([]);
    expect(liveConns(p.b)).toEqual([]);
    await l.close();
  });

  it('a dial that times out resets the stream the listener already queued', async () => {
    const p = await faultPair();
    await warmUp(p);
    const l = await p.b.streams.listen(1101);
    const accepted = l.accept();
    p.relay.setFaults({}, { drop: 1 });
    const dialErr = p.a.streams.dial(p.b.addr, 1101, { timeoutMs: 600 }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    const s: Stream = await within(accepted, 5000, 'B accepts at the SYN');
    const closed = closeError(s);
    expect((await within(dialErr, 5000, 'dial timeout'))?.code).toBe('ERR_DIAL_TIMEOUT');
    expect((await within(closed, 3000, 'accepted stream reset'))?.code).toBe('ERR_CONNECTION_RESET');
    expect(liveConns(p.b)).toEqual([]);
    await l.close();
  });

  it('a refused dial does not answer the RST with a RST', async () => {
    const p = await faultPair();
    await warmUp(p);
    const before = p.b.streams.counters.strayPackets;
    const err = await p.a.streams.dial(p.b.addr, 1102).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe('ERR_CONNECTION_REFUSED');
    // A RST for a connection B never had would count as stray there; give it a ping's round trip to land.
    await p.a.streams.ping(p.b.addr, { timeoutMs: 2000 });
    expect(p.b.streams.counters.strayPackets).toBe(before);
    expect(p.a.streams.counters.rstSent).toBe(0);
  });
});
