/**
 * Zero-window probing when the receiver's window updates are lost: only a probe can reopen the window.
 * A relay between the nodes (plaintext tunnel, so it can read packet headers) swallows every pure ACK from
 * the receiver while the window is closed, except the answer to a probe (a 1-byte segment). Each stall must
 * then end after about one minimum probe interval:
 * - the receiver answers a probe at once, not after its delayed-ACK time (set to a second here);
 * - a probe that reopened the window resets the probe backoff, so later stalls do not wait 2×, 4×, 8× longer.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FLAG_ACK, PROTO_STREAM } from '../../src/transport/packet.js';
import { UdpRelay } from '../helpers/udp-relay.js';
import { waitFor } from '../helpers/wait.js';
import { node, randomData } from './helpers.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const MAGIC_PILT = 0x50494c54;
const PROBE_MS = 50;
const STALLS = 5;

/** Payload length and flags of a plaintext stream packet, or null for anything else. */
function streamPacket(msg: Buffer): { len: number; flags: number } | null {
  if (msg.length < 4 + 34 || msg.readUInt32BE(0) !== MAGIC_PILT || msg[5] !== PROTO_STREAM) return null;
  return { len: msg.readUInt16BE(6), flags: msg[4] & 0x0f };
}

describe('zero-window probes', () => {
  it('with window updates lost, every stall ends after about one probe interval', async () => {
    const streams = {
      recvWindow: 64 * 1024,
      sendBuffer: 128 * 1024,
      pmtuDiscovery: false,
      zeroWindowProbeMinMs: PROBE_MS,
      zeroWindowProbeMaxMs: 60_000,
      delayedAckMs: 1000,
    };
    const a = await node(1, { streams, tunnel: { encrypt: false } });
    const b = await node(2, { streams, tunnel: { encrypt: false } });
    a.addPeer(b.peerEntry());
    b.addPeer(a.peerEntry());
    let swallowUpdates = false;
    let probeSeen = false;
    let swallowed = 0;
    const relay = await UdpRelay.create(b.tunnel.address, {
      up: {
        tap: (msg) => {
          if (streamPacket(msg)?.len === 1) probeSeen = true;
          return msg;
        },
      },
      down: {
        tap: (msg) => {
          const p = streamPacket(msg);
          if (!swallowUpdates || p === null || p.len !== 0 || p.flags !== FLAG_ACK) return msg;
          if (probeSeen) {
            probeSeen = false;
            return msg;
          }
          swallowed++;
          return null;
        },
      },
    });
    onTestFinished(() => relay.close());
    a.addPeer({ ...b.peerEntry(), endpoint: relay.address });

    const l = await b.streams.listen(1000);
    const accepted = l.accept();
    const c = await a.streams.dial(b.addr, 1000);
    const s = await accepted;
    s.pause();
    const data = randomData(1024 * 1024, 11);
    const written = (async () => {
      for (let off = 0; off < data.length; off += 16 * 1024) {
        if (!c.write(data.subarray(off, off + 16 * 1024))) await once(c, 'drain');
      }
      c.end();
    })();

    const chunks: Buffer[] = [];
    let got = 0;
    const drain = (): void => {
      let chunk: Buffer | null;
      while ((chunk = s.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        got += chunk.length;
      }
    };
    const stalls: number[] = [];
    for (let i = 0; i < STALLS; i++) {
      // The receiver holds a full window; the sender has nothing in flight but (perhaps) a probe.
      await waitFor(
        () => c.stats().peerRecvWindow < c.stats().mss && c.stats().inFlight <= 1 && s.readableLength > 0,
        10_000,
        `stall ${i}`,
      );
      swallowUpdates = true;
      probeSeen = false;
      const before = got + s.readableLength;
      drain(); // frees the whole window; the updates this sends are swallowed
      const t0 = performance.now();
      await waitFor(() => got + s.readableLength > before, 10_000, `data after stall ${i}`);
      stalls.push(performance.now() - t0);
      swallowUpdates = false;
    }
    // The rest of the transfer without interference.
    s.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
    });
    const ended = once(s, 'end');
    s.resume();
    await ended;
    await written;
    expect(swallowed).toBeGreaterThanOrEqual(STALLS);
    expect(sha(Buffer.concat(chunks))).toBe(sha(data));
    // One probe interval, at most doubled once (a probe already in flight when the window closed), plus
    // scheduling slack; without the fixes: the delayed-ACK second, or 50, 100, 200, 400, 800 ms.
    for (const ms of stalls) expect(ms).toBeLessThan(4 * PROBE_MS + 150);
  }, 30_000);
});
