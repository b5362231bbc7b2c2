/**
 * Audit 5, standard I/O (port 1000): lines arriving in pieces (down to one byte per packet) must cost linear
 * time and give the same lines as when they arrive whole.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { StdioService } from '../../src/plugins/index.js';
import { nodeAddr, testNet, waitFor, type TestNet } from './helpers.js';

async function dial(t: TestNet): Promise<Stream> {
  const c = await t.node(1).dial(nodeAddr(2), 1000);
  c.on('error', () => {});
  return c;
}

/** Send `data` on a fresh connection in pieces of `step` bytes, end it, and return the lines received. */
async function linesOf(data: string, step: number, maxLineLength: number): Promise<string[]> {
  const t = testNet();
  const stdio = new StdioService({ maxLineLength, queueSize: 100_000 });
  await t.start(stdio, 2);
  const c = await dial(t);
  const bytes = Buffer.from(data, 'utf8');
  for (let off = 0; off < bytes.length; off += step) c.write(bytes.subarray(off, off + step));
  const closed = new Promise((resolve) => c.once('end', resolve));
  c.end();
  c.resume();
  await closed;
  return stdio.read().map((m) => m.text);
}

describe('audit5 stdio: lines split across packets', () => {
  it('takes a long line sent one byte per packet in linear time', async () => {
    const t = testNet();
    const stdio = new StdioService({ maxLineLength: 1_000_000 });
    await t.start(stdio, 2);
    const c = await dial(t);
    const line = Buffer.from('x'.repeat(200_000) + '\n');
    const started = performance.now();
    for (let i = 0; i < line.length; i++) c.write(line.subarray(i, i + 1));
    await waitFor(() => stdio.received === 1, 60_000, 'the line');
    const elapsed = performance.now() - started;
    // A complexity guard, not a speed target: quadratic re-scanning of the line in progress took 10-15 s here,
    // linear work 0.3-0.5 s; the bound sits far from both.
    expect(elapsed).toBeLessThan(6_000);
    expect(stdio.read()[0].text).toHaveLength(200_000);
  });

  it('a CRLF right after maxLineLength characters ends the line whatever the packet boundaries', async () => {
    const data = 'abcdefghij\r\nnext\r\n';
    const whole = await linesOf(data, data.length, 10);
    expect(whole).toEqual(['abcdefghij', 'next']);
    expect(await linesOf(data, 1, 10)).toEqual(whole);
    expect(await linesOf(data, 11, 10)).toEqual(whole);
  });

  it('cuts over-long lines at the same places whether they arrive whole or in pieces', async () => {
    const data = 'abcdefghi\rXYZ\n' + 'k'.repeat(23) + '\r\n' + 'q'.repeat(20) + '\n' + 'tail\r';
    const whole = await linesOf(data, data.length, 10);
    expect(whole).toEqual([
      'abcdefghi\r',
      'XYZ',
      'kkkkkkkkkk',
      'kkkkkkkkkk',
      'kkk',
      'qqqqqqqqqq',
      'qqqqqqqqqq',
      'tail',
    ]);
    for (const step of [1, 2, 3, 7, 11]) expect(await linesOf(data, step, 10)).toEqual(whole);
  });

  it('never cuts a line inside a surrogate pair', async () => {
    const data = 'abcdefghi😀jk\n';
    const lines = await linesOf(data, 1, 10);
    expect(lines).toEqual(['abcdefghi', '😀jk']);
    expect(await linesOf(data, data.length, 10)).toEqual(lines);
    for (const l of lines) expect(Buffer.from(l, 'utf8').toString('utf8')).toBe(l);
  });
});
