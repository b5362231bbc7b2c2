/**
 * Audit 2: the listener's handshake RTT sample. The server never resends its SYN-ACK, so when the dialer's
 * handshake ACK is lost the first ACK it sees comes with the dialer's first data, after the application's
 * think time. Timing that as a round trip set srtt (and the RTO and tail-loss-probe delay) to seconds on a
 * sub-millisecond path. TCP would have resent the SYN-ACK by the initial RTO, so Karn's rule rules it out.
 */
import { describe, expect, it } from 'vitest';
import { faultPair, within } from './faults/fault-helpers.js';

describe('audit2: SYN-ACK RTT sample', () => {
  it('a handshake ACK that was lost does not time the dialer think time', async () => {
    const p = await faultPair({ streams: { pmtuDiscovery: false } });
    // Key exchange first: afterwards every packet from A is stream traffic.
    await p.a.streams.ping(p.b.addr, { timeoutMs: 2000 });
    let up = 0;
    // Packet 1 is the SYN, packet 2 the handshake's ACK: lose it.
    p.relay.setFaults({ tap: (m) => (++up === 2 ? null : m) }, {});
    const l = await p.b.streams.listen(1700);
    const accepted = l.accept();
    const c = await p.a.streams.dial(p.b.addr, 1700);
    const s = await accepted;
    s.on('error', () => {});
    c.on('error', () => {});
    const got = new Promise<void>((resolve) => s.once('data', () => resolve()));
    // The dialer's application writes its request after some think time (longer than the initial RTO).
    const thinkMs = 2 * p.b.streams.config.initialRtoMs;
    await new Promise((r) => setTimeout(r, thinkMs));
    c.write('request');
    await within(got, 3000, 'request arrives');
    expect(up).toBeGreaterThanOrEqual(3);
    // Loopback: the round trip is about a millisecond, not the think time.
    const srtt = s.stats().srttMs;
    expect(srtt).toBeLessThan(thinkMs / 4);
    c.destroy();
    await l.close();
  });
});
