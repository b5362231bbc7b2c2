/** Text helpers shared by the layers that bound peer- or client-supplied strings. */

const utf8 = new TextEncoder();

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8, at a character boundary (a multi-byte sequence or a surrogate
 * pair is never split). Returns `text` itself when it fits.
 */
export function clipUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const { read } = utf8.encodeInto(text, new Uint8Array(maxBytes));
  return text.slice(0, read);
}
