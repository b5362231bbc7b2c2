/**
 * `for await` over a stream destroys it when the loop ends; after the peer's FIN that destroy closes like
 * TCP's close(): everything written goes out, then FIN. That includes writes Node still holds in the
 * stream's buffer because our send buffer was full: a server that answers inside the loop must not have the
 * tail of its answer cut off behind a clean end-of-stream.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { pair, randomData, readAll } from './helpers.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const REPLY = 512 * 1024;

describe('graceful destroy after the peer finished', () => {
  it('delivers writes still buffered when a for-await loop ends, then a clean end-of-stream', async () => {
    const { a, b } = await pair({ sendBuffer: 64 * 1024, recvWindow: 128 * 1024, pmtuDiscovery: false });
    const replies = [randomData(REPLY, 21), randomData(REPLY, 22)];
    const l = await b.streams.listen(1000);
    let buffered = 0;
    const loopDone = (async () => {
      const s = await l.accept();
      // Answer each request with a reply in 16 KiB writes, far more than the 64 KiB send buffer and the
      // client's 128 KiB window. The second request comes with the client's FIN: its reply is still in
      // Node's write buffer (our send buffer is full) when the loop ends and destroys the stream.
      let n = 0;
      for await (const _chunk of s) {
        const r = replies[n++];
        for (let off = 0; off < r.length; off += 16 * 1024) s.write(r.subarray(off, off + 16 * 1024));
        buffered = Math.max(buffered, s.writableLength);
      }
      return n;
    })();
    const c = await a.streams.dial(b.addr, 1000);
    c.pause();
    c.write(Buffer.from('first request'));
    await waitFor(() => c.readableLength >= 64 * 1024, 10_000, 'the first reply flowing');
    c.end(Buffer.from('second request'));
    expect(await loopDone).toBe(2);
    expect(buffered).toBeGreaterThan(REPLY);
    const all = await readAll(c);
    const want = Buffer.concat(replies);
    expect(all.length).toBe(want.length);
    expect(sha(all)).toBe(sha(want));
  }, 20_000);
});
