/**
 * Property tests for the IPC codec and framing (docs/ipc.md), complementing test/ipc/protocol.test.ts and
 * test/ipc/frame-decoder.test.ts: every message kind (reference and extension) round trips at its boundaries
 * and with full Unicode text; truncated, extended and one-byte-flipped encodings fail only with
 * ERR_IPC_MALFORMED; the incremental frame decoder agrees with a whole-stream model for arbitrary bytes split
 * arbitrarily, rejects huge declared lengths at the header (before buffering the body) and stays failed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Addr } from '../../src/coreapi/addr.js';
import { PilotError } from '../../src/coreapi/errors.js';
import { Cmd, IPC_MAX_DATA, IPC_MAX_MESSAGE, IPC_MAX_SENDTO } from '../../src/ipc/constants.js';
import type { WireError } from '../../src/ipc/errors.js';
import { FrameDecoder } from '../../src/ipc/frame-decoder.js';
import {
  decodeMessage,
  encodeDataHeader,
  encodeMessage,
  frame,
  type IpcMessage,
} from '../../src/ipc/protocol.js';

const u16 = fc.oneof(fc.constantFrom(0, 1, 0xffff), fc.integer({ min: 0, max: 0xffff }));
const u32 = fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
const addr: fc.Arbitrary<Addr> = fc.record({ network: u16, node: u32 });
const data = fc
  .oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  )
  .map((u) => Buffer.from(u));
/** Well-formed Unicode (astral planes included), ASCII, and the empty string. */
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ maxLength: 20 }),
  fc.constant(''),
  fc.constantFrom('héllo', '日本語', '😀👍🏽', '\u0000nul', 'a\u200db', '\ufeffbom'),
);
const wireError: fc.Arbitrary<WireError> = fc.oneof(
  fc.record({ status: u16, code: fc.stringMatching(/^ERR_[A-Z0-9_]{1,40}$/), text }),
  fc.record({ status: u16, text }),
);
const json = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
  fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), fc.oneof(fc.integer(), text, fc.boolean())),
);

const message: fc.Arbitrary<IpcMessage> = fc.oneof(
  fc.record({
    type: fc.constantFrom(
      'bind',
      'bindOK',
      'bindDatagram',
      'bindDatagramOK',
      'unbindDatagram',
      'unbindDatagramOK',
      'unbind',
      'unbindOK',
    ),
    port: u16,
  }),
  fc.record({
    type: fc.constantFrom('dialOK', 'close', 'closeOK', 'closeWrite', 'closeWriteOK', 'reset'),
    connId: u32,
  }),
  fc.record({ type: fc.constantFrom('info', 'deregister', 'sendToOK') }),
  fc.record({ type: fc.constantFrom('resolveHostname', 'setHostname', 'setWebhook'), text }),
  fc.record({ type: fc.constantFrom('setVisibility', 'setTaskExec'), flag: fc.boolean() }),
  fc.record({
    type: fc.constantFrom(
      'infoOK',
      'handshakeOK',
      'resolveHostnameOK',
      'setHostnameOK',
      'setVisibilityOK',
      'deregisterOK',
      'setTagsOK',
      'setWebhookOK',
      'setTaskExecOK',
    ),
    json,
  }),
  fc.record({ type: fc.constant('handshake'), op: fc.constant('send'), nodeId: u32, justification: text }),
  fc.record({ type: fc.constant('handshake'), op: fc.constant('reject'), nodeId: u32, reason: text }),
  fc.record({ type: fc.constant('handshake'), op: fc.constantFrom('approve', 'revoke'), nodeId: u32 }),
  fc.record({ type: fc.constant('handshake'), op: fc.constantFrom('pending', 'trusted') }),
  fc.record({ type: fc.constant('dial'), addr, port: u16 }),
  fc.record({ type: fc.constant('accept'), localPort: u16, connId: u32, remoteAddr: addr, remotePort: u16 }),
  fc.record({ type: fc.constantFrom('send', 'recv'), connId: u32, data }),
  fc.record({ type: fc.constant('error'), status: u16, text }),
  fc.record({ type: fc.constantFrom('sendTo', 'sendToConfirm'), addr, port: u16, data }),
  fc.record({ type: fc.constant('recvFrom'), srcAddr: addr, srcPort: u16, dstPort: u16, data }),
  fc.record({ type: fc.constant('setTags'), tags: fc.array(text, { maxLength: 4 }) }),
  fc.record({ type: fc.constant('hello'), version: fc.integer({ min: 0, max: 255 }), window: u32 }),
  fc.record({ type: fc.constant('helloOK'), version: fc.integer({ min: 0, max: 255 }), window: u32, addr }),
  fc.record({ type: fc.constant('windowUpdate'), connId: u32, bytes: u32 }),
  fc.record({ type: fc.constant('streamError'), connId: u32, error: wireError }),
  fc.record({ type: fc.constant('errorEx'), error: wireError }),
  fc.record({ type: fc.constant('dialEx'), tag: u32, addr, port: u16, timeoutMs: u32 }),
  fc.record({ type: fc.constant('dialExOK'), tag: u32, connId: u32, localPort: u16 }),
  fc.record({ type: fc.constant('dialExError'), tag: u32, error: wireError }),
  fc.record({ type: fc.constant('dialCancel'), tag: u32 }),
  fc.record({ type: fc.constant('setNoDelay'), connId: u32, noDelay: fc.boolean() }),
  fc.record({
    type: fc.constant('unknown'),
    cmd: fc.constantFrom(0x00, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x2f, 0x45, 0x7f, 0xff),
    payload: data,
  }),
) as fc.Arbitrary<IpcMessage>;

function malformedOrValue(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PilotError);
    expect((err as PilotError).code).toBe('ERR_IPC_MALFORMED');
  }
}

describe('IPC messages', () => {
  it('decode(encode(m)) deep-equals m for every message kind', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it('frame(encode(m)) carries the message length big-endian', () => {
    fc.assert(
      fc.property(message, (m) => {
        const msg = encodeMessage(m);
        const f = frame(msg);
        expect(f.readUInt32BE(0)).toBe(msg.length);
        expect(f.subarray(4).equals(msg)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('truncations and one-byte extensions decode or fail with ERR_IPC_MALFORMED only', () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, cut, extra) => {
        const wire = encodeMessage(m);
        malformedOrValue(() => decodeMessage(wire.subarray(0, cut % (wire.length + 1))));
        malformedOrValue(() => decodeMessage(Buffer.concat([wire, Buffer.from([extra])])));
      }),
      { numRuns: 1500 },
    );
  });

  it('an empty message is ERR_IPC_MALFORMED', () => {
    expect(() => decodeMessage(Buffer.alloc(0))).toThrow(
      expect.objectContaining({ code: 'ERR_IPC_MALFORMED' }),
    );
  });

  it('one flipped byte decodes or fails with ERR_IPC_MALFORMED only', () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 1, max: 255 }), (m, pos, x) => {
        const wire = Buffer.from(encodeMessage(m));
        wire[pos % wire.length] ^= x;
        malformedOrValue(() => decodeMessage(wire));
      }),
      { numRuns: 2000 },
    );
  });

  it('every command byte with a random payload decodes or fails with ERR_IPC_MALFORMED only', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 24 }), (cmd, payload) => {
        malformedOrValue(() => decodeMessage(Buffer.concat([Buffer.from([cmd]), payload])));
      }),
      { numRuns: 3000 },
    );
  });

  it('data messages at the 1 MiB limit round trip through frame + decoder; one byte more cannot be framed', () => {
    const conn = 0xffffffff;
    const a = { network: 0xffff, node: 0xffffffff };
    const cases: IpcMessage[] = [
      { type: 'send', connId: conn, data: Buffer.alloc(IPC_MAX_DATA, 1) },
      { type: 'recv', connId: 0, data: Buffer.alloc(IPC_MAX_DATA, 2) },
      { type: 'sendTo', addr: a, port: 0xffff, data: Buffer.alloc(IPC_MAX_SENDTO, 3) },
      {
        type: 'recvFrom',
        srcAddr: a,
        srcPort: 0,
        dstPort: 0xffff,
        data: Buffer.alloc(IPC_MAX_SENDTO - 2, 4),
      },
    ];
    for (const m of cases) {
      const wire = frame(encodeMessage(m));
      expect(wire.length).toBe(4 + IPC_MAX_MESSAGE);
      const d = new FrameDecoder();
      d.push(wire.subarray(0, 1000));
      expect(d.next()).toBeNull();
      d.push(wire.subarray(1000));
      const back = decodeMessage(d.next()!) as IpcMessage & { data: Buffer };
      // Buffers compared with equals(): a deep toEqual over 1 MiB is needlessly slow.
      expect(back.data.equals((m as { data: Buffer }).data)).toBe(true);
      expect({ ...back, data: null }).toEqual({ ...m, data: null });
      const bigger = { ...m, data: Buffer.alloc((m as { data: Buffer }).data.length + 1) } as IpcMessage;
      expect(() => frame(encodeMessage(bigger))).toThrow(
        expect.objectContaining({ code: 'ERR_IPC_MALFORMED' }),
      );
    }
  });

  it('frame() accepts exactly 1..1 MiB messages; encodeDataHeader refuses data over one message', () => {
    expect(frame(Buffer.alloc(IPC_MAX_MESSAGE)).length).toBe(IPC_MAX_MESSAGE + 4);
    for (const n of [0, IPC_MAX_MESSAGE + 1]) {
      let code: string | null = null;
      try {
        frame(Buffer.alloc(n));
      } catch (err) {
        code = (err as PilotError).code;
      }
      expect(code).toBe('ERR_IPC_MALFORMED');
    }
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: IPC_MAX_DATA }), (connId, n) => {
        const h = encodeDataHeader(Cmd.Send, connId, n);
        expect(h.readUInt32BE(0)).toBe(5 + n);
        expect(h.readUInt32BE(5)).toBe(connId);
      }),
      { numRuns: 100 },
    );
    expect(() => encodeDataHeader(Cmd.Send, 1, IPC_MAX_DATA + 1)).toThrow(
      expect.objectContaining({ code: 'ERR_IPC_MALFORMED' }),
    );
  });
});

/** The whole-stream meaning of a byte stream: the messages before the first bad header, and that error. */
function modelFrames(stream: Buffer, max: number): { messages: string[]; error: string | null } {
  const messages: string[] = [];
  let off = 0;
  while (stream.length - off >= 4) {
    const len = stream.readUInt32BE(off);
    if (len === 0) return { messages, error: 'ERR_IPC_MALFORMED' };
    if (len > max) return { messages, error: 'ERR_IPC_FRAME_TOO_LARGE' };
    if (stream.length - off - 4 < len) break;
    messages.push(stream.toString('hex', off + 4, off + 4 + len));
    off += 4 + len;
  }
  return { messages, error: null };
}

/** A byte stream made of valid frames, raw junk, zero-length and oversized headers. */
const streamPart = (max: number) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((u) => frame(Buffer.from(u))),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map((u) => Buffer.from(u)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(0, max + 1, 0x7fffffff, 0xffffffff).map((n) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n >>> 0, 0);
        return b;
      }),
    },
  );

describe('IPC frame decoder', () => {
  it('arbitrary bytes split arbitrarily: same messages and same error as the whole-stream model', () => {
    fc.assert(
      fc.property(
        fc.array(streamPart(64), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (parts, cuts) => {
          const stream = Buffer.concat(parts);
          const want = modelFrames(stream, 64);
          const d = new FrameDecoder(64);
          const got: string[] = [];
          let error: string | null = null;
          let off = 0;
          let i = 0;
          outer: while (off < stream.length) {
            const n = cuts[i++ % cuts.length];
            d.push(stream.subarray(off, off + n));
            off += n;
            for (;;) {
              let m: Buffer | null;
              try {
                m = d.next();
              } catch (err) {
                expect(err).toBeInstanceOf(PilotError);
                error = (err as PilotError).code;
                break outer;
              }
              if (m === null) break;
              expect(m.length).toBeGreaterThan(0);
              expect(m.length).toBeLessThanOrEqual(64);
              got.push(m.toString('hex'));
            }
            // Never holds more than one incomplete frame (header + at most max bytes) plus the last chunk.
            expect(d.buffered).toBeLessThanOrEqual(4 + 64 + n);
          }
          expect(got).toEqual(want.messages);
          expect(error).toBe(want.error);
          if (error !== null) {
            // A failed decoder stays failed with the same error.
            expect(() => d.next()).toThrow(expect.objectContaining({ code: error }));
            expect(() => d.push(Buffer.from([1]))).toThrow(expect.objectContaining({ code: error }));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a huge declared length is refused at the header, without waiting for or buffering the body', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: IPC_MAX_MESSAGE + 1, max: 0xffffffff }),
        fc.integer({ min: 1, max: 4 }),
        fc.uint8Array({ maxLength: 16 }),
        (len, split, body) => {
          const head = Buffer.alloc(4);
          head.writeUInt32BE(len, 0);
          const d = new FrameDecoder();
          d.push(head.subarray(0, split));
          if (split < 4) {
            expect(d.next()).toBeNull();
            d.push(Buffer.concat([head.subarray(split), body]));
          } else if (body.length > 0) d.push(Buffer.from(body));
          expect(() => d.next()).toThrow(expect.objectContaining({ code: 'ERR_IPC_FRAME_TOO_LARGE' }));
          expect(d.buffered).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a declared length within the cap but not yet present allocates nothing: buffered = bytes pushed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: IPC_MAX_MESSAGE }),
        fc.uint8Array({ maxLength: 90 }),
        (len, body) => {
          const head = Buffer.alloc(4);
          head.writeUInt32BE(len, 0);
          const d = new FrameDecoder();
          d.push(head);
          expect(d.next()).toBeNull();
          d.push(Buffer.from(body));
          expect(d.next()).toBeNull();
          expect(d.buffered).toBe(body.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reassembling one large message from many tiny chunks is linear, not quadratic', () => {
    // Regression: #take shifted consumed chunks off the array one at a time; 2^20 one-byte chunks took minutes.
    const n = 1 << 19;
    const body = Buffer.alloc(n);
    for (let i = 0; i < n; i++) body[i] = (i * 31) & 0xff;
    const wire = frame(body);
    const d = new FrameDecoder();
    const start = performance.now();
    // As the server and the driver do: push each chunk, then drain.
    let m: Buffer | null = null;
    let early = 0;
    for (let i = 0; i < wire.length; i++) {
      d.push(wire.subarray(i, i + 1));
      m = d.next();
      if (m !== null && i < wire.length - 1) early++;
    }
    expect(early).toBe(0);
    const elapsed = performance.now() - start;
    expect(m?.equals(body)).toBe(true);
    expect(d.buffered).toBe(0);
    expect(elapsed).toBeLessThan(3000);
  });

  it('messages decoded from a randomly split stream of encoded messages equal the originals', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }),
        (msgs, cuts) => {
          const stream = Buffer.concat(msgs.map((m) => frame(encodeMessage(m))));
          const d = new FrameDecoder();
          const got: IpcMessage[] = [];
          let off = 0;
          let i = 0;
          while (off < stream.length) {
            const n = cuts[i++ % cuts.length];
            d.push(stream.subarray(off, off + n));
            off += n;
            for (let m = d.next(); m !== null; m = d.next()) got.push(decodeMessage(m));
          }
          expect(got).toEqual(msgs);
          expect(d.buffered).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
