/**
 * Audit 3: a data-exchange frame whose bytes arrive one per packet. The FrameReader used to keep every chunk
 * (a Buffer object, and the packet buffer it is a view of) until the frame completed: ~100+ bytes of memory
 * per byte received. It now copies small chunks together, so it holds a few buffers and no packet.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  DataExchangeService,
  encodeFrame,
  FRAME_BINARY,
  FRAME_FILE,
  FrameReader,
  listReceived,
  STAGING_BYTES,
  type Frame,
} from '../../src/plugins/index.js';
import { pseudoRandom } from './helpers.js';
import { realNet, startOnB } from './real-net.js';

/** Each byte of `wire` as a 1-byte view of its own 1500-byte "packet" buffer, like a received segment. */
function onePerPacket(wire: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < wire.length; i++) {
    const packet = Buffer.allocUnsafeSlow(1500);
    packet[40] = wire[i];
    out.push(packet.subarray(40, 41));
  }
  return out;
}

function forceGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('audit3: FrameReader memory with one byte per chunk', () => {
  it('holds a bounded number of buffers while a frame arrives byte by byte', () => {
    const payload = pseudoRandom(40_000, 7);
    const wire = encodeFrame({ type: FRAME_BINARY, payload });
    const reader = new FrameReader();
    let maxHeld = 0;
    let early = 0;
    const chunks = onePerPacket(wire);
    for (let i = 0; i < chunks.length; i++) {
      reader.push(chunks[i]);
      maxHeld = Math.max(maxHeld, reader.heldBuffers);
      if (i < chunks.length - 1 && reader.read() !== null) early++;
    }
    expect(early).toBe(0);
    // One buffer per STAGING_BYTES received (plus the one being filled), not one per byte.
    expect(maxHeld).toBeLessThanOrEqual(Math.ceil(payload.length / STAGING_BYTES) + 2);
    const frame = reader.read();
    expect(frame?.type).toBe(FRAME_BINARY);
    expect(frame?.payload.equals(payload)).toBe(true);
    expect(reader.buffered).toBe(0);
    expect(reader.heldBuffers).toBe(0);
    reader.end();
  });

  it('does not keep the packets of a pending frame alive', async () => {
    const gc = forceGc();
    const wire = encodeFrame({ type: FRAME_BINARY, payload: pseudoRandom(5000, 3) });
    const reader = new FrameReader();
    const refs: WeakRef<ArrayBufferLike>[] = [];
    // Everything but the last byte: the frame stays pending, so the reader still owns what it kept.
    for (const c of onePerPacket(wire.subarray(0, wire.length - 1))) {
      refs.push(new WeakRef(c.buffer));
      reader.push(c);
    }
    expect(reader.read()).toBeNull();
    // WeakRef targets stay alive until the current job ends: collect from a later macrotask.
    await new Promise((r) => setImmediate(r));
    gc();
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    expect(alive).toBeLessThan(10);
    reader.push(wire.subarray(wire.length - 1));
    expect(reader.read()?.payload.equals(wire.subarray(8))).toBe(true);
  });

  it('decodes any split of a frame sequence into any mix of small and large chunks', () => {
    const frames: Frame[] = [
      { type: FRAME_BINARY, payload: pseudoRandom(3000, 1) },
      { type: FRAME_FILE, filename: 'a.txt', payload: Buffer.alloc(0) },
      { type: FRAME_BINARY, payload: pseudoRandom(20_000, 2) },
      { type: FRAME_BINARY, payload: Buffer.from('x') },
      { type: FRAME_FILE, filename: 'b.bin', payload: pseudoRandom(1500, 4) },
    ];
    const wire = Buffer.concat(frames.map((f) => encodeFrame(f)));
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 900, max: 5000 })), {
          minLength: 1,
          maxLength: 40,
        }),
        (sizes) => {
          const reader = new FrameReader();
          const got: Frame[] = [];
          let off = 0;
          for (let i = 0; off < wire.length; i++) {
            const n = sizes[i % sizes.length];
            reader.push(wire.subarray(off, off + n));
            off += n;
            for (let f = reader.read(); f; f = reader.read()) got.push(f);
          }
          reader.end();
          expect(got).toHaveLength(frames.length);
          got.forEach((f, i) => {
            expect(f.type).toBe(frames[i].type);
            expect(f.payload.equals(frames[i].payload)).toBe(true);
            if (frames[i].filename !== undefined) expect(f.filename).toBe(frames[i].filename);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the service saves a file sent in tiny segments over real streams', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pilot-audit3-dxm-'));
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    const net = await realNet();
    await startOnB(net, new DataExchangeService({ dataDir }));
    const data = pseudoRandom(1500, 9);
    const wire = encodeFrame({ type: FRAME_FILE, filename: 'tiny.bin', payload: data });
    const s = await net.a.streams.dial(net.b.addr, 1001);
    onTestFinished(() => {
      s.destroy();
    });
    s.setNoDelay(true);
    const reply = new Promise<string>((resolve, reject) => {
      const reader = new FrameReader();
      s.on('data', (c: Buffer) => {
        reader.push(c);
        const f = reader.read();
        if (f) resolve(f.payload.toString());
      });
      s.once('close', () => reject(new Error('closed without a reply')));
    });
    // One byte per write, each handed to the stream before the next: small segments on the wire.
    for (let i = 0; i < wire.length; i++) {
      await new Promise<void>((resolve, reject) =>
        s.write(wire.subarray(i, i + 1), (err) => (err ? reject(err) : resolve())),
      );
    }
    expect(await reply).toBe('ACK FILE 1500 bytes');
    s.end();
    const [file] = await listReceived(dataDir);
    expect((await readFile(file.path)).equals(data)).toBe(true);
  });
});
