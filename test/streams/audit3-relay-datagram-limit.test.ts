/**
 * A relayed tunnel frame gets a 9-byte beacon Relay header. The datagram size limit of `sendDatagram` used to
 * leave no room for it: a payload within 9 bytes of the limit was accepted, then dropped by the tunnel as
 * `oversized` (only a counter) whenever the peer was reached through the beacon. The limit now includes the
 * relay header, so every accepted datagram can be relayed, and one byte more is refused with a typed error.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { createBeacon, encodeDiscover } from '../../src/beacon/index.js';
import type { Datagram } from '../../src/coreapi/streams.js';
import { MAX_PACKET_PAYLOAD } from '../../src/streams/constants.js';
import { MAX_DATAGRAM_PAYLOAD } from '../../src/streams/stack.js';
import { resolveStreamConfig } from '../../src/streams/stream-config.js';
import { waitFor } from '../helpers/wait.js';
import { pair, randomData } from './helpers.js';

describe('datagrams at the size limit through the beacon relay', () => {
  it('the largest accepted datagram arrives through the relay; one byte more is ERR_DATAGRAM_TOO_LARGE', async () => {
    // 65,507 (largest UDP payload) - 9 (relay header) - 36 (PILS) - 34 (packet header).
    expect(MAX_DATAGRAM_PAYLOAD).toBe(65_428);
    const beacon = await createBeacon({ host: '127.0.0.1', port: 0 });
    onTestFinished(() => beacon.close());
    const at = { host: '127.0.0.1', port: beacon.address().port };
    const { a, b } = await pair();
    // Both nodes register with the beacon and reach each other only through its relay.
    for (const n of [a, b]) {
      n.tunnel.setBeacon(at);
      n.tunnel.sendRaw(encodeDiscover(n.nodeId), at);
    }
    await waitFor(() => beacon.lookupNode(1) !== null && beacon.lookupNode(2) !== null, 2000, 'registered');
    a.tunnel.setRelay(2, true);
    b.tunnel.setRelay(1, true);

    const sock = await b.streams.bindDatagram(900);
    onTestFinished(() => sock.close());
    await a.streams.sendDatagram(b.addr, 900, Buffer.from('keys'));
    expect((await sock.receive({ signal: AbortSignal.timeout(3000) })).data.toString()).toBe('keys');

    const data = randomData(MAX_DATAGRAM_PAYLOAD, 7);
    let got: Datagram | null = null;
    // Datagrams are unreliable by contract: a few attempts, each waiting for the datagram to arrive.
    for (let i = 0; i < 5 && got === null; i++) {
      await a.streams.sendDatagram(b.addr, 900, data);
      got = await sock.receive({ signal: AbortSignal.timeout(500) }).catch(() => null);
    }
    expect(a.tunnel.counters().drops.oversized).toBe(0);
    expect(got?.data.equals(data)).toBe(true);
    expect(a.tunnel.peer(2)?.relay).toBe(true);
    expect(beacon.stats().sent.relay_deliver).toBeGreaterThan(1);

    await expect(
      a.streams.sendDatagram(b.addr, 900, Buffer.alloc(MAX_DATAGRAM_PAYLOAD + 1)),
    ).rejects.toMatchObject({
      code: 'ERR_DATAGRAM_TOO_LARGE',
      details: { size: MAX_DATAGRAM_PAYLOAD + 1, max: MAX_DATAGRAM_PAYLOAD },
    });
    expect(a.tunnel.counters().drops.oversized).toBe(0);
  });
});

describe('stream segments at the size limit', () => {
  it('the segment size options stop where a segment still fits through the relay', () => {
    expect(resolveStreamConfig({ mss: MAX_PACKET_PAYLOAD }).mss).toBe(65_428);
    // One byte more could not be relayed (it was accepted before, then dropped as oversized when relayed).
    expect(() => resolveStreamConfig({ mss: MAX_PACKET_PAYLOAD + 1 })).toThrow(RangeError);
    expect(resolveStreamConfig({ maxMss: 70_000 }).maxMss).toBe(MAX_PACKET_PAYLOAD);
  });
});
