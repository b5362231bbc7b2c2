/**
 * A datagram to a broadcast address (node 0xFFFFFFFF) is refused by the streams layer itself, with the
 * reference's text, for plugins and IPC clients alike. It used to go to the tunnel, which looked the
 * "peer" 0xFFFFFFFF up in the registry and dropped the datagram without a word.
 */
import { describe, expect, it } from 'vitest';
import { broadcastAddr } from '../../src/coreapi/addr.js';
import { BROADCAST_UNAVAILABLE_TEXT } from '../../src/coreapi/errors.js';
import { pair } from './helpers.js';

describe('sendDatagram to a broadcast address', () => {
  it('rejects ERR_BROADCAST_UNAVAILABLE with the reference text on any network, and sends nothing', async () => {
    const { a } = await pair();
    const before = a.tunnel.counters().txPackets;
    for (const network of [0, 1, 0xffff]) {
      await expect(
        a.streams.sendDatagram(broadcastAddr(network), 1000, Buffer.from('hi')),
      ).rejects.toMatchObject({
        code: 'ERR_BROADCAST_UNAVAILABLE',
        message: BROADCAST_UNAVAILABLE_TEXT,
      });
    }
    expect(a.tunnel.counters().txPackets).toBe(before);
  });
});
