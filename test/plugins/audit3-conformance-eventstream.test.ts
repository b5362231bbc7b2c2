/**
 * Event stream (reference §10, port 1002) seen from a reference peer: hand-built events over real streams
 * (UDP tunnels on 127.0.0.1). Topics are byte strings on the wire (u16 length + bytes); the broker must match
 * and forward them byte for byte, whatever the bytes are.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { EventStreamService } from '../../src/plugins/index.js';
import { waitFor } from './helpers.js';
import { realNet, startOnB, type RealNet } from './real-net.js';

const PORT = 1002;

/** An event with a raw topic (any bytes). */
function rawEvent(topic: Buffer, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(2 + topic.length + 4 + payload.length);
  out.writeUInt16BE(topic.length, 0);
  topic.copy(out, 2);
  out.writeUInt32BE(payload.length, 2 + topic.length);
  payload.copy(out, 6 + topic.length);
  return out;
}

/** Collect raw bytes received on a stream. */
function collect(s: Stream): { bytes: () => Buffer; closed: () => boolean } {
  const chunks: Buffer[] = [];
  let closed = false;
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('close', () => (closed = true));
  s.on('error', () => {});
  return { bytes: () => Buffer.concat(chunks), closed: () => closed };
}

async function rawConn(net: RealNet, subscription: Buffer): Promise<Stream> {
  const s = await net.a.streams.dial(net.b.addr, PORT);
  s.on('error', () => {});
  s.setNoDelay(true);
  s.write(rawEvent(subscription));
  return s;
}

describe('event stream conformance: topics are bytes (reference §10)', () => {
  it('keeps topics that are not valid UTF-8 apart and forwards them byte for byte', async () => {
    const net = await realNet();
    const broker = await startOnB(net, new EventStreamService());
    const ff = Buffer.from([0xff]);
    const fe = Buffer.from([0xfe]);
    const sub = await rawConn(net, ff);
    const got = collect(sub);
    const pub = await rawConn(net, Buffer.from('publisher'));
    collect(pub);
    await waitFor(() => broker.stats.subscribers === 2, 5000, 'two subscribers');
    // [0xFE] is another topic than [0xFF]: the subscriber must not get it. The [0xFF] event after it is the
    // barrier: events from one publisher reach a subscriber in order.
    pub.write(rawEvent(fe, Buffer.from('wrong')));
    pub.write(rawEvent(ff, Buffer.from('right')));
    const expected = rawEvent(ff, Buffer.from('right'));
    await waitFor(() => got.bytes().length >= expected.length, 5000, 'the [0xFF] event');
    expect(got.bytes().equals(expected)).toBe(true);
    sub.destroy();
    pub.destroy();
  });

  it('delivers a 1024-byte non-UTF-8 topic to a * subscriber unchanged and keeps the publisher connected', async () => {
    const net = await realNet();
    const broker = await startOnB(net, new EventStreamService());
    const all = await rawConn(net, Buffer.from('*'));
    const got = collect(all);
    const pub = await rawConn(net, Buffer.from('publisher'));
    const pubState = collect(pub);
    await waitFor(() => broker.stats.subscribers === 2, 5000, 'two subscribers');
    const topic = Buffer.alloc(1024, 0xff); // the largest topic the reference allows
    const ev = rawEvent(topic, Buffer.from('payload'));
    pub.write(ev);
    pub.write(rawEvent(Buffer.from('after'), Buffer.from('x')));
    const expected = Buffer.concat([ev, rawEvent(Buffer.from('after'), Buffer.from('x'))]);
    await waitFor(() => got.bytes().length >= expected.length || pubState.closed(), 5000, 'delivery');
    expect(pubState.closed()).toBe(false);
    expect(got.bytes().equals(expected)).toBe(true);
    all.destroy();
    pub.destroy();
  });
});
