import { describe, expect, it } from 'vitest';
import { pair, randomData, readAll, sha256 } from './helpers.js';

describe('streams basics', () => {
  it('dials, echoes and closes cleanly', async () => {
    const { a, b } = await pair();
    const l = await b.streams.listen(7);
    const server = (async () => {
      const s = await l.accept();
      for await (const chunk of s) s.write(chunk);
      s.end();
    })();
    const c = await a.streams.dial(b.addr, 7);
    c.write('hello');
    c.end();
    const got = await readAll(c);
    expect(got.toString()).toBe('hello');
    await server;
  });

  it('transfers 2 MiB intact', async () => {
    const { a, b } = await pair();
    const l = await b.streams.listen(1000);
    const data = randomData(2 * 1024 * 1024);
    const recv = (async () => readAll(await l.accept()))();
    const c = await a.streams.dial(b.addr, 1000);
    c.end(data);
    const got = await recv;
    expect(got.length).toBe(data.length);
    expect(sha256(got)).toBe(sha256(data));
  });
});
