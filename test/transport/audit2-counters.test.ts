/**
 * The tunnel's packet and byte counters (Info's pkts_sent / bytes_sent / pkts_recv / bytes_recv) count every
 * datagram the socket takes or delivers, whatever its kind: the receive side counts beacon messages and NAT
 * punches (`PILP`), so the send side must count the ones it sends, and must not count a send it dropped.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel/tunnel-helpers.js';

describe('tunnel traffic counters', () => {
  it('punches and raw beacon messages are counted on the sending side as on the receiving side', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    let punches = 0;
    b.tunnel.on('punch', () => punches++);
    const beacon: Buffer[] = [];
    b.tunnel.setBeaconHandler((m) => beacon.push(m));
    const tx0 = a.tunnel.counters();
    const rx0 = b.tunnel.counters();

    a.tunnel.punch(b.tunnel.address, 3);
    a.tunnel.sendRaw(Buffer.from([0x01, 0, 0, 0, 1]), b.tunnel.address);
    await waitFor(() => punches === 3 && beacon.length === 1, 3000, 'punches and beacon message');

    const tx = a.tunnel.counters();
    const rx = b.tunnel.counters();
    expect(rx.rxPackets - rx0.rxPackets).toBe(4);
    expect(tx.txPackets - tx0.txPackets).toBe(rx.rxPackets - rx0.rxPackets);
    expect(tx.txBytes - tx0.txBytes).toBe(rx.rxBytes - rx0.rxBytes);
  });

  it('a key exchange sent to an endpoint it cannot reach is a drop, not a sent packet', async () => {
    const a = await makeNode(1);
    const before = a.tunnel.counters();
    a.tunnel.sendKxTo({ host: 'not-an-address', port: 4000 });
    a.tunnel.sendKxTo({ host: '127.0.0.1', port: 0 });
    const after = a.tunnel.counters();
    expect(after.drops.no_route - before.drops.no_route).toBe(2);
    expect(after.txPackets).toBe(before.txPackets);
    expect(after.txBytes).toBe(before.txBytes);
  });

  it('a frame too large for one UDP datagram is dropped as oversized, not counted as sent', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'keys'));
    await waitFor(() => b.received.length === 1, 3000, 'keyed');
    const before = a.tunnel.counters();
    // 34-byte header + 36 bytes of PILS overhead + 65,450 = 65,520 > 65,507 (the largest UDP payload on IPv4).
    // (dgram.send without a callback drops such a datagram silently: no 'error' event, no send_error.)
    const sent = a.tunnel.send(datagram(1, 2, Buffer.alloc(65_450)));
    const after = a.tunnel.counters();
    expect(sent).toBe(false);
    expect(after.drops.oversized - before.drops.oversized).toBe(1);
    expect(after.drops.send_error).toBe(before.drops.send_error);
    expect(after.txPackets).toBe(before.txPackets);
    expect(after.txBytes).toBe(before.txBytes);
    expect(a.tunnel.peer(2)?.counters.drops.oversized).toBe(1);
    // The largest datagram the streams layer sends (65,437 bytes of payload) still goes through.
    a.tunnel.send(datagram(1, 2, Buffer.alloc(65_437)));
    await waitFor(() => b.received.length === 2, 3000, 'the largest datagram');
  });
});
