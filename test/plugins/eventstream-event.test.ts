import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EventReader,
  MAX_EVENT_PAYLOAD,
  MAX_TOPIC_BYTES,
  PublisherRateLimiter,
  encodeEvent,
  type StreamEvent,
} from '../../src/plugins/index.js';
import { decodeChunks, fuzzDecoder, pseudoRandom } from './helpers.js';

function decodeAll(bytes: Buffer, pieces = 1): StreamEvent[] {
  return decodeChunks(new EventReader(), bytes, pieces);
}

describe('event-stream events', () => {
  it('has the reference wire layout: topic len u16, topic, payload len u32, payload', () => {
    expect(encodeEvent('ab', Buffer.from('xyz')).toString('hex')).toBe(
      '0002' + '6162' + '00000003' + '78797a',
    );
  });

  it('round-trips an event, an empty payload and the * topic', () => {
    const [a, b, c] = decodeAll(
      Buffer.concat([
        encodeEvent('sensors.temp', Buffer.from('21.5')),
        encodeEvent('empty'),
        encodeEvent('*', Buffer.from('ignored')),
      ]),
    );
    expect(a.topic).toBe('sensors.temp');
    expect(a.payload.toString()).toBe('21.5');
    expect(b).toMatchObject({ topic: 'empty' });
    expect(b.payload.length).toBe(0);
    expect(c.topic).toBe('*');
  });

  it('decodes sequential events in order under any chunking, including an empty topic', () => {
    const events = Array.from({ length: 20 }, (_, i) =>
      encodeEvent(i === 5 ? '' : `t${i}`, Buffer.from(`p${i}`)),
    );
    const wire = Buffer.concat(events);
    for (const pieces of [1, 7, wire.length]) {
      const out = decodeAll(wire, pieces);
      expect(out.map((e) => e.payload.toString())).toEqual(events.map((_, i) => `p${i}`));
      expect(out[5].topic).toBe('');
    }
  });

  it('accepts a 1024-byte topic and rejects 1025, on both sides', () => {
    const topic = 't'.repeat(MAX_TOPIC_BYTES);
    expect(decodeAll(encodeEvent(topic))[0].topic).toBe(topic);
    expect(() => encodeEvent(topic + 'x')).toThrow(
      expect.objectContaining({ code: 'ERR_EVENTSTREAM_TOPIC_TOO_LONG' }),
    );
    // Multi-byte characters count in bytes.
    expect(() => encodeEvent('é'.repeat(513))).toThrow(
      expect.objectContaining({ code: 'ERR_EVENTSTREAM_TOPIC_TOO_LONG' }),
    );
    const r = new EventReader();
    expect(() => r.push(Buffer.from([0x04, 0x01]))).toThrow(
      expect.objectContaining({ code: 'ERR_EVENTSTREAM_TOPIC_TOO_LONG' }),
    );
    expect(() => r.push(Buffer.from([0]))).toThrow(
      expect.objectContaining({ code: 'ERR_EVENTSTREAM_TOPIC_TOO_LONG' }),
    );
  });

  it('accepts a 16 MiB payload and rejects one byte more, on both sides', () => {
    const payload = pseudoRandom(MAX_EVENT_PAYLOAD, 5);
    const out = decodeAll(encodeEvent('big', payload), 300);
    expect(out[0].payload.equals(payload)).toBe(true);
    expect(() => encodeEvent('big', Buffer.alloc(MAX_EVENT_PAYLOAD + 1))).toThrow(
      expect.objectContaining({ code: 'ERR_EVENTSTREAM_EVENT_TOO_LARGE' }),
    );
    const head = Buffer.from('0001' + '61' + (MAX_EVENT_PAYLOAD + 1).toString(16).padStart(8, '0'), 'hex');
    expect(() => new EventReader().push(head)).toThrow(
      expect.objectContaining({ code: 'ERR_EVENTSTREAM_EVENT_TOO_LARGE' }),
    );
  });

  it('reports a truncated event at end of stream', () => {
    const r = new EventReader();
    r.push(encodeEvent('topic', Buffer.from('payload')).subarray(0, 9));
    expect(r.read()).toBeNull();
    expect(r.buffered).toBe(9);
    expect(() => r.end()).toThrow(expect.objectContaining({ code: 'ERR_EVENTSTREAM_TRUNCATED' }));
  });

  it('never throws anything but a PilotError on random bytes', () => {
    fuzzDecoder(() => new EventReader());
  });

  it('round-trips arbitrary events (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ topic: fc.string({ maxLength: 40 }), payload: fc.uint8Array({ maxLength: 200 }) }),
          {
            maxLength: 8,
          },
        ),
        fc.integer({ min: 1, max: 30 }),
        (events, pieces) => {
          const wire = Buffer.concat([
            Buffer.alloc(0),
            ...events.map((e) => encodeEvent(e.topic, e.payload)),
          ]);
          const out = decodeAll(wire, pieces);
          expect(out.map((e) => e.topic)).toEqual(events.map((e) => e.topic));
          out.forEach((e, i) => expect(e.payload.equals(Buffer.from(events[i].payload))).toBe(true));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('publisher rate limiter', () => {
  it('allows the burst, then the sustained rate, per publisher', () => {
    let now = 0;
    const rl = new PublisherRateLimiter({ rate: 100, burst: 200 }, () => now);
    let ok = 0;
    for (let i = 0; i < 300; i++) if (rl.take('a')) ok++;
    expect(ok).toBe(200);
    expect(rl.take('b')).toBe(true);
    now += 100; // 10 tokens
    ok = 0;
    for (let i = 0; i < 50; i++) if (rl.take('a')) ok++;
    expect(ok).toBe(10);
    now += 60_000;
    ok = 0;
    for (let i = 0; i < 500; i++) if (rl.take('a')) ok++;
    expect(ok).toBe(200);
  });

  it('forgets refilled buckets when the table grows', () => {
    let now = 0;
    const rl = new PublisherRateLimiter({ rate: 10, burst: 1 }, () => now);
    for (let i = 0; i < 5000; i++) rl.take(`p${i}`);
    expect(rl.size).toBe(5000);
    now += 1000;
    rl.take('new');
    expect(rl.size).toBeLessThan(10);
  });
});
