/**
 * Tunnel frames (reference §4): magic bytes, exact layouts and lengths, the PILA signature input, frameKind
 * classification (beacon bytes < 0x10), and decode errors by code.
 */
import { describe, expect, it } from 'vitest';
import { PilotError } from '../../../src/coreapi/errors.js';
import {
  MAGIC_PILA,
  MAGIC_PILK,
  MAGIC_PILP,
  MAGIC_PILS,
  MAGIC_PILT,
  PILA_SIZE,
  PILK_SIZE,
  PILP_SIZE,
  PILS_HEADER_SIZE,
  PILS_MIN_SIZE,
  decodePilaFrame,
  decodePilkFrame,
  decodePilpFrame,
  decodePilsFrame,
  decodePiltFrame,
  encodePilaFrame,
  encodePilkFrame,
  encodePilpFrame,
  encodePilsFrame,
  encodePiltFrame,
  frameKind,
  pilaSignatureInput,
} from '../../../src/transport/frames.js';
import { ed25519Sign, ed25519Verify, generateEd25519 } from '../../../src/transport/keys.js';
import { PROTO_DATAGRAM, decodePacket, encodePacket, makePacket } from '../../../src/transport/packet.js';

function pilotErrorOf(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PilotError);
    return err as PilotError;
  }
  throw new Error('expected a PilotError, nothing was thrown');
}

/** n bytes counting up from `start` (mod 256): easy to spot at their offsets. */
function seqBytes(n: number, start: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (start + i) & 0xff));
}

const X = seqBytes(32, 0x10);
const ED = seqBytes(32, 0x40);
const SIG = seqBytes(64, 0x80);

describe('magic bytes', () => {
  it.each([
    ['PILT', MAGIC_PILT, '50494c54'],
    ['PILS', MAGIC_PILS, '50494c53'],
    ['PILK', MAGIC_PILK, '50494c4b'],
    ['PILA', MAGIC_PILA, '50494c41'],
    ['PILP', MAGIC_PILP, '50494c50'],
  ])('%s is ASCII %s', (ascii, magic, hex) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(magic, 0);
    expect(b.toString('hex')).toBe(hex);
    expect(b.toString('latin1')).toBe(ascii);
  });

  it('every encoder starts with its magic', () => {
    expect(encodePiltFrame(Buffer.alloc(0)).subarray(0, 4).toString()).toBe('PILT');
    expect(
      encodePilsFrame(1, Buffer.alloc(12), Buffer.alloc(0), Buffer.alloc(16)).subarray(0, 4).toString(),
    ).toBe('PILS');
    expect(encodePilkFrame(1, X).subarray(0, 4).toString()).toBe('PILK');
    expect(encodePilaFrame(1, X, ED, SIG).subarray(0, 4).toString()).toBe('PILA');
    expect(encodePilpFrame().toString()).toBe('PILP');
  });
});

describe('PILT', () => {
  it('is the magic followed by an encoded packet', () => {
    const p = makePacket({
      protocol: PROTO_DATAGRAM,
      src: { network: 0, node: 5 },
      dst: { network: 0, node: 6 },
      payload: Buffer.from('dgram'),
    });
    const pkt = encodePacket(p);
    const frame = encodePiltFrame(pkt);
    expect(frame.length).toBe(4 + 34 + 5);
    expect(frame.subarray(4).equals(pkt)).toBe(true);
    expect(frameKind(frame)).toBe('PILT');
    expect(decodePacket(decodePiltFrame(frame))).toEqual(p);
  });
});

describe('PILS', () => {
  it('layout: magic ‖ node ID BE ‖ nonce(12) ‖ ciphertext ‖ tag(16)', () => {
    const nonce = seqBytes(12, 0xa0);
    const ct = Buffer.from('ciphertext');
    const tag = seqBytes(16, 0xc0);
    const f = encodePilsFrame(0x01020304, nonce, ct, tag);
    expect(PILS_HEADER_SIZE).toBe(20);
    expect(PILS_MIN_SIZE).toBe(36);
    expect(f.length).toBe(20 + ct.length + 16);
    expect(f.subarray(0, 8).toString('hex')).toBe('50494c5301020304');
    expect(f.subarray(8, 20).equals(nonce)).toBe(true);
    expect(f.subarray(20, 20 + ct.length).equals(ct)).toBe(true);
    expect(f.subarray(f.length - 16).equals(tag)).toBe(true);
    const d = decodePilsFrame(f);
    expect(d.nodeId).toBe(0x01020304);
    expect(d.nonce.equals(nonce)).toBe(true);
    expect(d.ciphertext.equals(ct)).toBe(true);
    expect(d.tag.equals(tag)).toBe(true);
  });

  it('the 36-byte minimum (empty ciphertext) decodes; 35 bytes is too short', () => {
    const f = encodePilsFrame(0xffffffff, Buffer.alloc(12, 1), Buffer.alloc(0), Buffer.alloc(16, 2));
    expect(f.length).toBe(36);
    const d = decodePilsFrame(f);
    expect(d.nodeId).toBe(0xffffffff);
    expect(d.ciphertext.length).toBe(0);
    expect(pilotErrorOf(() => decodePilsFrame(f.subarray(0, 35))).code).toBe('ERR_FRAME_TOO_SHORT');
    expect(pilotErrorOf(() => decodePilsFrame(f.subarray(0, 8))).code).toBe('ERR_FRAME_TOO_SHORT');
  });

  it('encoder rejects a wrong nonce or tag size with ERR_FRAME_LENGTH', () => {
    for (const [nonce, tag] of [
      [11, 16],
      [13, 16],
      [12, 15],
      [12, 17],
    ]) {
      const err = pilotErrorOf(() =>
        encodePilsFrame(1, Buffer.alloc(nonce), Buffer.alloc(4), Buffer.alloc(tag)),
      );
      expect(err.code).toBe('ERR_FRAME_LENGTH');
      expect(err.name).toBe('FrameError');
    }
  });
});

describe('PILK', () => {
  it('layout: magic ‖ node ID BE ‖ X25519 public key, exactly 40 bytes', () => {
    const f = encodePilkFrame(0xf2910004, X);
    expect(PILK_SIZE).toBe(40);
    expect(f.length).toBe(40);
    expect(f.subarray(0, 8).toString('hex')).toBe('50494c4bf2910004');
    expect(f.subarray(8).equals(X)).toBe(true);
    const d = decodePilkFrame(f);
    expect(d.nodeId).toBe(0xf2910004);
    expect(d.x25519PublicKey.equals(X)).toBe(true);
  });

  it('decoded key is a copy, independent of the datagram buffer', () => {
    const f = encodePilkFrame(7, X);
    const d = decodePilkFrame(f);
    f.fill(0);
    expect(d.x25519PublicKey.equals(X)).toBe(true);
  });

  it('39 bytes → ERR_FRAME_TOO_SHORT, 41 bytes → ERR_FRAME_LENGTH', () => {
    const f = encodePilkFrame(7, X);
    expect(pilotErrorOf(() => decodePilkFrame(f.subarray(0, 39))).code).toBe('ERR_FRAME_TOO_SHORT');
    expect(pilotErrorOf(() => decodePilkFrame(Buffer.concat([f, Buffer.from([0])]))).code).toBe(
      'ERR_FRAME_LENGTH',
    );
  });

  it('encoder rejects a key that is not 32 bytes', () => {
    expect(pilotErrorOf(() => encodePilkFrame(1, Buffer.alloc(31))).code).toBe('ERR_FRAME_LENGTH');
    expect(pilotErrorOf(() => encodePilkFrame(1, Buffer.alloc(33))).code).toBe('ERR_FRAME_LENGTH');
  });
});

describe('PILA', () => {
  it('layout: magic ‖ node ID ‖ X25519 pub ‖ Ed25519 pub ‖ signature, exactly 136 bytes', () => {
    const f = encodePilaFrame(0x0a0b0c0d, X, ED, SIG);
    expect(PILA_SIZE).toBe(136);
    expect(f.length).toBe(136);
    expect(f.subarray(0, 8).toString('hex')).toBe('50494c410a0b0c0d');
    expect(f.subarray(8, 40).equals(X)).toBe(true);
    expect(f.subarray(40, 72).equals(ED)).toBe(true);
    expect(f.subarray(72, 136).equals(SIG)).toBe(true);
    const d = decodePilaFrame(f);
    expect(d).toEqual({ nodeId: 0x0a0b0c0d, x25519PublicKey: X, ed25519PublicKey: ED, signature: SIG });
    f.fill(0);
    expect(d.signature.equals(SIG)).toBe(true);
  });

  it('135 bytes → ERR_FRAME_TOO_SHORT, 137 bytes → ERR_FRAME_LENGTH', () => {
    const f = encodePilaFrame(1, X, ED, SIG);
    expect(pilotErrorOf(() => decodePilaFrame(f.subarray(0, 135))).code).toBe('ERR_FRAME_TOO_SHORT');
    expect(pilotErrorOf(() => decodePilaFrame(f.subarray(0, 40))).code).toBe('ERR_FRAME_TOO_SHORT');
    expect(pilotErrorOf(() => decodePilaFrame(Buffer.concat([f, Buffer.alloc(1)]))).code).toBe(
      'ERR_FRAME_LENGTH',
    );
  });

  it('encoder rejects wrong key and signature sizes', () => {
    expect(pilotErrorOf(() => encodePilaFrame(1, Buffer.alloc(31), ED, SIG)).code).toBe('ERR_FRAME_LENGTH');
    expect(pilotErrorOf(() => encodePilaFrame(1, X, Buffer.alloc(33), SIG)).code).toBe('ERR_FRAME_LENGTH');
    expect(pilotErrorOf(() => encodePilaFrame(1, X, ED, Buffer.alloc(63))).code).toBe('ERR_FRAME_LENGTH');
  });

  it("signature input is 40 bytes: ASCII 'auth' (no colon) ‖ node ID BE ‖ X25519 pub", () => {
    const input = pilaSignatureInput(0x01020304, X);
    expect(input.length).toBe(40);
    expect(input.subarray(0, 4).toString('hex')).toBe('61757468');
    expect(input.subarray(0, 4).toString('latin1')).toBe('auth');
    expect(input.subarray(4, 8).toString('hex')).toBe('01020304');
    expect(input.subarray(8).equals(X)).toBe(true);
    expect(input.includes(':')).toBe(false);
  });

  it('a signed PILA verifies against the decoded fields, and not with another node ID or key', () => {
    const id = generateEd25519();
    const nodeId = 42;
    const sig = ed25519Sign(id, pilaSignatureInput(nodeId, X));
    const d = decodePilaFrame(encodePilaFrame(nodeId, X, id.publicKey, sig));
    expect(
      ed25519Verify(d.ed25519PublicKey, pilaSignatureInput(d.nodeId, d.x25519PublicKey), d.signature),
    ).toBe(true);
    expect(ed25519Verify(d.ed25519PublicKey, pilaSignatureInput(43, d.x25519PublicKey), d.signature)).toBe(
      false,
    );
    expect(ed25519Verify(d.ed25519PublicKey, pilaSignatureInput(42, ED), d.signature)).toBe(false);
  });
});

describe('PILP', () => {
  it('V1 form is the 4 magic bytes alone; [NEW] form appends the node ID', () => {
    expect(encodePilpFrame().toString('hex')).toBe('50494c50');
    expect(PILP_SIZE).toBe(8);
    const f = encodePilpFrame(0xdeadbeef);
    expect(f.toString('hex')).toBe('50494c50deadbeef');
    expect(decodePilpFrame(f)).toEqual({ nodeId: 0xdeadbeef });
    expect(decodePilpFrame(encodePilpFrame())).toEqual({ nodeId: null });
    expect(decodePilpFrame(encodePilpFrame(0))).toEqual({ nodeId: 0 });
  });

  it('classifies both forms as PILP', () => {
    expect(frameKind(encodePilpFrame())).toBe('PILP');
    expect(frameKind(encodePilpFrame(1))).toBe('PILP');
  });
});

describe('frameKind', () => {
  it.each([
    ['PILT', 'PILT'],
    ['PILS', 'PILS'],
    ['PILK', 'PILK'],
    ['PILA', 'PILA'],
    ['PILP', 'PILP'],
    ['PILX', 'unknown'],
    ['PILt', 'unknown'],
    ['QILT', 'unknown'],
    ['PXLT', 'unknown'],
    ['PIXT', 'unknown'],
    ['pilt', 'unknown'],
  ])('%s → %s', (magic, kind) => {
    expect(frameKind(Buffer.from(`${magic}rest of datagram`, 'latin1'))).toBe(kind);
    expect(frameKind(Buffer.from(magic, 'latin1'))).toBe(kind);
  });

  it('every first byte below 0x10 is a beacon message, whatever its length', () => {
    for (let b = 0; b < 0x10; b++) {
      expect(frameKind(Buffer.from([b]))).toBe('beacon');
      expect(frameKind(Buffer.from([b, 0x49, 0x4c, 0x54, 0, 0]))).toBe('beacon');
    }
  });

  it('first bytes 0x10..0xFF other than a P magic are unknown', () => {
    for (let b = 0x10; b < 0x100; b++) {
      expect(frameKind(Buffer.from([b, 0x49, 0x4c, 0x53]))).toBe(b === 0x50 ? 'PILS' : 'unknown');
    }
  });

  it('empty and short (< 4 byte) non-beacon datagrams are unknown', () => {
    expect(frameKind(Buffer.alloc(0))).toBe('unknown');
    expect(frameKind(Buffer.from('P'))).toBe('unknown');
    expect(frameKind(Buffer.from('PIL'))).toBe('unknown');
  });

  it('works on a plain Uint8Array', () => {
    expect(frameKind(new Uint8Array([0x50, 0x49, 0x4c, 0x4b]))).toBe('PILK');
  });
});

describe('wrong magic', () => {
  const frames = {
    PILT: encodePiltFrame(Buffer.alloc(34)),
    PILS: encodePilsFrame(1, Buffer.alloc(12), Buffer.alloc(3), Buffer.alloc(16)),
    PILK: encodePilkFrame(1, X),
    PILA: encodePilaFrame(1, X, ED, SIG),
    PILP: encodePilpFrame(1),
  };
  const decoders: Record<keyof typeof frames, (b: Buffer) => unknown> = {
    PILT: decodePiltFrame,
    PILS: decodePilsFrame,
    PILK: decodePilkFrame,
    PILA: decodePilaFrame,
    PILP: decodePilpFrame,
  };
  const kinds = Object.keys(frames) as Array<keyof typeof frames>;

  it('each decoder rejects every other frame kind with ERR_FRAME_UNKNOWN_MAGIC', () => {
    for (const decoderKind of kinds) {
      for (const frameKindName of kinds) {
        if (decoderKind === frameKindName) continue;
        const err = pilotErrorOf(() => decoders[decoderKind](frames[frameKindName]));
        expect(err.code, `${decoderKind} decoding ${frameKindName}`).toBe('ERR_FRAME_UNKNOWN_MAGIC');
      }
    }
  });

  it('each decoder rejects a beacon message and an unknown magic', () => {
    for (const kind of kinds) {
      expect(pilotErrorOf(() => decoders[kind](Buffer.from([0x01, 0, 0, 0, 0, 0, 0, 0]))).code).toBe(
        'ERR_FRAME_UNKNOWN_MAGIC',
      );
      expect(pilotErrorOf(() => decoders[kind](Buffer.alloc(136, 0x41))).code).toBe(
        'ERR_FRAME_UNKNOWN_MAGIC',
      );
    }
  });

  it('each decoder rejects datagrams shorter than the magic with a frame error', () => {
    for (const kind of kinds) {
      for (const bytes of [Buffer.alloc(0), Buffer.from('PIL')]) {
        const err = pilotErrorOf(() => decoders[kind](bytes));
        expect(['ERR_FRAME_TOO_SHORT', 'ERR_FRAME_UNKNOWN_MAGIC']).toContain(err.code);
      }
    }
  });
});
