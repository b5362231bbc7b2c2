/**
 * RTT samples must time round trips only. Found through the 2%-loss goodput figure of the benchmark (0.15-0.3 of
 * the relay's cap with one seed, srtt ~90 ms on a ~4 ms path): the dial's SYN waited in the tunnel for the key
 * exchange of a first contact, and the SYN-ACK's sample timed that exchange too (a lost key-exchange frame adds
 * its 250 ms retry). That first sample sets srtt, rttvar and the RTO, and delays every tail-loss probe.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../../src/coreapi/streams.js';
import { faultPair } from './fault-helpers.js';

const isKx = (m: Buffer): boolean =>
  m.length >= 4 && m[0] === 0x50 && m[1] === 0x49 && m[2] === 0x4c && (m[3] === 0x41 || m[3] === 0x4b);

/** One echo round trip of a small message. */
function echoOnce(s: Stream): Promise<void> {
  return new Promise((resolve) => {
    s.once('data', () => resolve());
    s.write(Buffer.from('ping'));
  });
}

describe('faults: RTT sampling', () => {
  it('a SYN that waited for a lost key exchange does not time the exchange', async () => {
    let kxDropped = 0;
    const p = await faultPair({
      // The default SYN retransmission (1 s) comes after the key-exchange retry (250 ms), so the SYN is not resent.
      streams: { pmtuDiscovery: false, synRtoMs: 1000 },
      up: { tap: (m) => (isKx(m) && kxDropped++ === 0 ? null : m) },
    });
    const l = await p.b.streams.listen(7);
    void (async () => {
      for await (const s of l) {
        s.on('data', (c: Buffer) => s.write(c));
        s.on('error', () => {});
      }
    })();
    const s = await p.a.streams.dial(p.b.addr, 7);
    s.on('error', () => {});
    s.setNoDelay(true);
    expect(kxDropped).toBeGreaterThan(1); // the first exchange frame was lost and sent again
    // The key-exchange retry is 250 ms: the handshake gave no sample (srtt 0) instead of ~250 ms.
    expect(s.stats().srttMs).toBeLessThan(100);
    for (let i = 0; i < 5; i++) await echoOnce(s);
    expect(s.stats().srttMs).toBeGreaterThan(0);
    expect(s.stats().srttMs).toBeLessThan(100);
    s.destroy();
    await l.close();
  });
});
