import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionRefusedError, DialTimeoutError, PortInUseError } from '../../src/coreapi/errors.js';
import { IPC_MAX_MESSAGE } from '../../src/ipc/constants.js';
import { errorToWire, IpcDaemonError, IpcRemoteError, wireToError } from '../../src/ipc/errors.js';
import { FrameDecoder } from '../../src/ipc/frame-decoder.js';
import { frame } from '../../src/ipc/protocol.js';

function drain(d: FrameDecoder): Buffer[] {
  const out: Buffer[] = [];
  let m: Buffer | null;
  while ((m = d.next()) !== null) out.push(Buffer.from(m));
  return out;
}

describe('FrameDecoder', () => {
  it('returns several frames from one chunk, in order', () => {
    const d = new FrameDecoder();
    d.push(
      Buffer.concat([
        frame(Buffer.from([1, 0, 80])),
        frame(Buffer.from([0x0d])),
        frame(Buffer.from([7, 0, 0, 0, 1, 9])),
      ]),
    );
    expect(drain(d).map((b) => b.toString('hex'))).toEqual(['010050', '0d', '07000000' + '0109']);
    expect(d.buffered).toBe(0);
  });

  it('reassembles frames fed one byte at a time (header split too)', () => {
    const d = new FrameDecoder();
    const bytes = Buffer.concat([frame(Buffer.from('0dhello', 'latin1')), frame(Buffer.from([2, 1, 2]))]);
    const got: Buffer[] = [];
    for (const b of bytes) {
      d.push(Buffer.from([b]));
      got.push(...drain(d));
    }
    expect(got.map((b) => b.toString('latin1'))).toEqual(['0dhello', '\x02\x01\x02']);
  });

  it('returns a view (no copy) when the frame lies inside one chunk', () => {
    const chunk = frame(Buffer.from([7, 0, 0, 0, 1, 42]));
    const d = new FrameDecoder();
    d.push(chunk);
    const m = d.next();
    expect(m?.buffer).toBe(chunk.buffer);
  });

  it('accepts a frame of exactly 1 MiB', () => {
    const d = new FrameDecoder();
    const msg = Buffer.alloc(IPC_MAX_MESSAGE, 6);
    d.push(frame(msg));
    const [m] = drain(d);
    expect(m.length).toBe(IPC_MAX_MESSAGE);
  });

  it('rejects a frame over 1 MiB as soon as its header arrives (ERR_IPC_FRAME_TOO_LARGE)', () => {
    const d = new FrameDecoder();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(IPC_MAX_MESSAGE + 1);
    d.push(header);
    expect(() => d.next()).toThrow(expect.objectContaining({ code: 'ERR_IPC_FRAME_TOO_LARGE' }));
    // The decoder stays failed.
    expect(() => d.push(Buffer.from([1]))).toThrow(
      expect.objectContaining({ code: 'ERR_IPC_FRAME_TOO_LARGE' }),
    );
    expect(() => d.next()).toThrow(expect.objectContaining({ code: 'ERR_IPC_FRAME_TOO_LARGE' }));
  });

  it('rejects a zero-length frame (ERR_IPC_MALFORMED)', () => {
    const d = new FrameDecoder();
    d.push(Buffer.alloc(4));
    expect(() => d.next()).toThrow(expect.objectContaining({ code: 'ERR_IPC_MALFORMED' }));
  });

  it('honours a smaller custom cap', () => {
    const d = new FrameDecoder(8);
    d.push(frame(Buffer.alloc(9, 1)));
    expect(() => d.next()).toThrow(expect.objectContaining({ code: 'ERR_IPC_FRAME_TOO_LARGE' }));
  });

  it('reassembles any split of any sequence of frames (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 40 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map((m) => frame(Buffer.from(m))));
          const d = new FrameDecoder();
          const got: Buffer[] = [];
          let off = 0;
          let i = 0;
          while (off < stream.length) {
            const n = cuts[i++ % cuts.length];
            d.push(stream.subarray(off, off + n));
            off += n;
            got.push(...drain(d));
          }
          expect(got.map((b) => b.toString('hex'))).toEqual(
            messages.map((m) => Buffer.from(m).toString('hex')),
          );
          expect(d.buffered).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('IPC error mapping', () => {
  it('keeps the reference texts for dial timeout and connection refused', () => {
    expect(errorToWire(new DialTimeoutError('dial 1:0001.0000.0002:7 timed out after 5 ms'))).toEqual({
      status: 1,
      code: 'ERR_DIAL_TIMEOUT',
      text: 'dial timeout',
    });
    expect(errorToWire(new ConnectionRefusedError('connection refused (backlog full)')).text).toBe(
      'connection refused',
    );
    expect(errorToWire(new Error('boom'))).toEqual({ status: 1, code: 'ERR_INTERNAL', text: 'boom' });
  });

  it('rebuilds typed errors from ErrorEx codes', () => {
    const e = wireToError({ status: 1, code: 'ERR_PORT_IN_USE', text: 'port 80 in use' });
    expect(e).toBeInstanceOf(PortInUseError);
    expect(e.message).toBe('port 80 in use');
    const r = wireToError({ status: 1, code: 'ERR_HOSTNAME_TAKEN', text: 'taken' });
    expect(r).toBeInstanceOf(IpcRemoteError);
    expect(r.code).toBe('ERR_HOSTNAME_TAKEN');
  });

  it('maps reference Error texts, else reports `daemon: <text>` as ERR_IPC_DAEMON', () => {
    expect(wireToError({ status: 1, text: 'dial timeout' })).toBeInstanceOf(DialTimeoutError);
    expect(wireToError({ status: 1, text: 'connection refused' })).toBeInstanceOf(ConnectionRefusedError);
    const e = wireToError({ status: 1, text: 'connection 9 not found' });
    expect(e).toBeInstanceOf(IpcDaemonError);
    expect(e.code).toBe('ERR_IPC_DAEMON');
    expect(e.message).toBe('daemon: connection 9 not found');
    // A code that is not an ERR_ code is ignored (treated as a reference error).
    expect(wireToError({ status: 1, code: 'bogus', text: 'x' }).code).toBe('ERR_IPC_DAEMON');
  });
});
