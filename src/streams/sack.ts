/**
 * SACK blocks carried in the payload of a pure ACK, exactly as the reference encodes them:
 * ASCII `SACK` ‖ count (1 byte, 1..4) ‖ count × (left u32 BE, right u32 BE), where `left` is the first byte of
 * a received block and `right` the first byte after it.
 */

export const SACK_MAX_BLOCKS = 4;

export interface SackBlock {
  left: number;
  right: number;
}

/** Encode up to 4 blocks (extra blocks are ignored). */
export function encodeSack(blocks: readonly SackBlock[]): Buffer {
  const n = Math.min(blocks.length, SACK_MAX_BLOCKS);
  const out = Buffer.allocUnsafe(5 + 8 * n);
  out.write('SACK', 0, 'latin1');
  out[4] = n;
  for (let i = 0; i < n; i++) {
    out.writeUInt32BE(blocks[i].left >>> 0, 5 + 8 * i);
    out.writeUInt32BE(blocks[i].right >>> 0, 9 + 8 * i);
  }
  return out;
}

/** True when `payload` has exactly the shape of a SACK payload (magic, count 1..4, exact length). */
export function looksLikeSack(payload: Uint8Array): boolean {
  if (
    payload.length < 13 ||
    payload[0] !== 0x53 ||
    payload[1] !== 0x41 ||
    payload[2] !== 0x43 ||
    payload[3] !== 0x4b
  ) {
    return false;
  }
  const n = payload[4];
  return n >= 1 && n <= SACK_MAX_BLOCKS && payload.length === 5 + 8 * n;
}

/**
 * How many of the `len` bytes at `data[start]` a data segment may carry so that a reference peer does not read
 * it as SACK info. The reference's decoder takes any payload of an ACK that starts with `SACK`, a count of 1..4
 * and at least `5 + 8·count` bytes for SACK blocks, ignoring what follows; such a segment is cut to
 * `4 + 8·count` bytes (one short of a block list). Anything else keeps its length.
 */
export function sackSafeLength(data: Uint8Array, start: number, len: number): number {
  if (
    len < 13 ||
    data[start] !== 0x53 ||
    data[start + 1] !== 0x41 ||
    data[start + 2] !== 0x43 ||
    data[start + 3] !== 0x4b
  ) {
    return len;
  }
  const n = data[start + 4];
  return n >= 1 && n <= SACK_MAX_BLOCKS && len >= 5 + 8 * n ? 4 + 8 * n : len;
}

/** Decode; null when the payload is not a well-formed SACK payload. */
export function decodeSack(payload: Buffer): SackBlock[] | null {
  if (!looksLikeSack(payload)) return null;
  const n = payload[4];
  const out: SackBlock[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ left: payload.readUInt32BE(5 + 8 * i), right: payload.readUInt32BE(9 + 8 * i) });
  }
  return out;
}
