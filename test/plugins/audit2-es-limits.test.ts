/**
 * Event stream over real sockets (UDP on 127.0.0.1): what a hostile or slow peer may cost the broker.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import {
  encodeEvent,
  EventStreamService,
  subscribe,
  type EventStreamClient,
} from '../../src/plugins/index.js';
import { waitFor } from './helpers.js';
import { realNet, startOnB } from './real-net.js';

const PORT = 1002;

function acked(stream: Stream, written: number): boolean {
  const s = stream.stats();
  return s.bytesSent >= written && s.inFlight === 0;
}

describe('event stream broker limits (real sockets)', () => {
  it('does not allocate a whole announced payload for the few bytes that arrived', async () => {
    const net = await realNet();
    const broker = await startOnB(net, new EventStreamService());
    const streams: Stream[] = [];
    // Each connection announces a 16 MiB subscription payload and sends one byte of it.
    const head = Buffer.alloc(2 + 1 + 4 + 1);
    head.writeUInt16BE(1, 0);
    head.write('t', 2);
    head.writeUInt32BE(16 * 1024 * 1024, 3);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 16; i++) {
      const s = await net.a.streams.dial(net.b.addr, PORT);
      s.on('error', () => {});
      s.write(head);
      streams.push(s);
    }
    await waitFor(() => streams.every((s) => acked(s, head.length)) && broker.stats.connections === 16);
    const grown = process.memoryUsage().arrayBuffers - before;
    for (const s of streams) s.destroy();
    // 16 × 16 MiB = 256 MiB if each announced payload is allocated up front.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  });

  it('bounds the bytes queued for a subscriber that never reads by subscriberBufferBytes', async () => {
    const net = await realNet();
    const bound = 64 * 1024;
    const broker = await startOnB(
      net,
      new EventStreamService({
        subscriberBufferBytes: bound,
        slowSubscriberMaxDrops: 1_000_000,
        publishRate: 1_000_000,
        publishBurst: 1_000_000,
      }),
    );
    const slow: EventStreamClient = await subscribe(net.a.streams, net.b.addr, 'bulk');
    slow.stream.on('error', () => {});
    slow.stream.pause(); // never reads
    const pub = await subscribe(net.a.streams, net.b.addr, 'publisher');
    pub.ignoreIncoming();
    await waitFor(() => broker.stats.subscribers === 2);
    const payload = Buffer.alloc(16 * 1024, 1);
    const eventBytes = encodeEvent('bulk', payload).length;
    const count = 640; // 10 MiB
    for (let i = 0; i < count; i++) await pub.publish('bulk', payload);
    await waitFor(() => broker.stats.published === count, 10_000, 'all published');
    const deliveredBytes = broker.stats.delivered * eventBytes;
    expect(broker.stats.slowDrops).toBeGreaterThan(0);
    // What the broker may have handed over: the subscriber's receive window (4 MiB, held by the subscriber),
    // plus at most the bound (and one event) still queued at the broker.
    expect(deliveredBytes).toBeLessThanOrEqual(4 * 1024 * 1024 + bound + 2 * eventBytes + 256 * 1024);
    slow.stream.destroy();
    pub.stream.destroy();
  }, 15_000);
});
