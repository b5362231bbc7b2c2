import { describe, expect, it } from 'vitest';
import { DEFAULT_MSS } from '../../src/streams/constants.js';
import { waitFor } from '../helpers/wait.js';
import { pair, randomData, sha256 } from './helpers.js';

function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

const dropLarge = (m: Buffer): Buffer | null => (m.length > 1500 ? null : m);

describe('path MTU discovery', () => {
  it('raises the segment size on loopback, where large datagrams get through', async () => {
    const { a, b } = await pair();
    const l = await b.streams.listen(9);
    const accepted = l.accept();
    const c = await a.streams.dial(b.addr, 9);
    await accepted;
    expect(c.stats().mss).toBe(DEFAULT_MSS);
    await waitFor(() => c.stats().mss > DEFAULT_MSS, 5000, 'a larger segment size');
    expect(a.streams.pathMss(2)).toBeGreaterThan(DEFAULT_MSS);
  });

  it('keeps the base size when large probes are lost, and data flows', async () => {
    const { a, b, relay } = await pair({}, { up: { tap: dropLarge }, down: { tap: dropLarge } });
    const l = await b.streams.listen(9);
    const got = (async () => readAll(await l.accept()))();
    const c = await a.streams.dial(b.addr, 9);
    const data = randomData(512 * 1024, 3);
    c.end(data);
    expect(sha256(await got)).toBe(sha256(data));
    expect(c.stats().mss).toBe(DEFAULT_MSS);
    expect(relay?.stats.up.dropped).toBeGreaterThan(0);
  });

  it('falls back to the base size when large segments start to be lost mid-transfer', async () => {
    const { a, b, relay } = await pair({ minRtoMs: 50, initialRtoMs: 200 }, {});
    const l = await b.streams.listen(9);
    const got = (async () => readAll(await l.accept()))();
    const c = await a.streams.dial(b.addr, 9);
    await waitFor(() => c.stats().mss > DEFAULT_MSS, 5000, 'a larger segment size');
    const data = randomData(2 * 1024 * 1024, 4);
    c.write(data.subarray(0, 1024 * 1024));
    relay?.setFaults({ tap: dropLarge }, { tap: dropLarge });
    c.end(data.subarray(1024 * 1024));
    expect(sha256(await got)).toBe(sha256(data));
    expect(c.stats().mss).toBe(DEFAULT_MSS);
  }, 30_000);
});

describe('control ping', () => {
  it('answers pings on port 0 and reports the round trip', async () => {
    const { a, b } = await pair();
    const rtt = await a.streams.ping(b.addr, { size: 64 });
    expect(rtt).toBeGreaterThan(0);
    expect(b.streams.counters.pingsAnswered).toBeGreaterThanOrEqual(1);
  });
});
