import { describe, expect, it } from 'vitest';
import { builtinPlugins, EchoService, StdioService } from '../../src/plugins/index.js';
import { collectEvents, nodeAddr, pseudoRandom, readAll, testNet, waitFor } from './helpers.js';

describe('builtin plugin list', () => {
  it('lists the five services in order, each creating a Service of its name', () => {
    expect(builtinPlugins.map((p) => p.name)).toEqual([
      'webhook',
      'echo',
      'stdio',
      'dataexchange',
      'eventstream',
    ]);
    for (const p of builtinPlugins) {
      const s = p.create({});
      expect(s.name).toBe(p.name);
      expect(typeof s.order).toBe('number');
    }
    expect(builtinPlugins.map((p) => p.create({}).order)).toEqual([90, 100, 105, 110, 120]);
  });

  it('rejects bad config with ERR_INVALID_ARG naming the key', () => {
    const echo = builtinPlugins.find((p) => p.name === 'echo');
    expect(() => echo?.create({ port: 70_000 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', details: { key: 'port' } }),
    );
    const webhook = builtinPlugins.find((p) => p.name === 'webhook');
    expect(() => webhook?.create({ url: 'ftp://x' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG' }),
    );
    const es = builtinPlugins.find((p) => p.name === 'eventstream');
    expect(() => es?.create({ publishRate: -1 })).toThrow(
      expect.objectContaining({ details: { key: 'publishRate' } }),
    );
  });
});

describe('echo (port 7)', () => {
  it('echoes every byte back and ends after the client ends', async () => {
    const t = testNet();
    const echo = new EchoService();
    await t.start(echo, 2);
    const client = await t.node(1).dial(nodeAddr(2), 7);
    const data = pseudoRandom(300_000, 9);
    const received = readAll(client);
    client.write(data.subarray(0, 1000));
    client.write(data.subarray(1000));
    client.end();
    expect((await received).equals(data)).toBe(true);
    expect(echo.stats.bytes).toBe(data.length);
    expect((await echo.health()).status).toBe('ok');
  });

  it('serves concurrent clients and releases them on stop', async () => {
    const t = testNet();
    const echo = new EchoService();
    await t.start(echo, 2);
    const clients = await Promise.all([1, 3, 4].map((n) => t.node(n).dial(nodeAddr(2), 7)));
    const replies = clients.map(
      (c, i) =>
        new Promise<string>((resolve) => {
          c.once('data', (d: Buffer) => resolve(d.toString()));
          c.write(`hello ${i}`);
        }),
    );
    expect(await Promise.all(replies)).toEqual(['hello 0', 'hello 1', 'hello 2']);
    await waitFor(() => echo.stats.open === 3);
    const errors = clients.map((c) => new Promise((r) => c.once('error', r)));
    await echo.stop(AbortSignal.timeout(5000));
    expect(await Promise.all(errors)).toHaveLength(3);
    expect(echo.stats.open).toBe(0);
    await expect(t.node(1).dial(nodeAddr(2), 7)).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
  });
});

describe('stdio (port 1000)', () => {
  it('delivers lines to the inbox and the bus, with CRLF and a final partial line', async () => {
    const t = testNet();
    const { events } = collectEvents(t.bus, 'stdio.*');
    const stdio = new StdioService();
    await t.start(stdio, 2);
    const c = await t.node(1).dial(nodeAddr(2), 1000);
    c.write('first line\r\nsecond ');
    c.write(Buffer.from('lïne\nthird', 'utf8').subarray(0, 3));
    c.write(Buffer.from('lïne\nthird', 'utf8').subarray(3));
    c.end();
    await waitFor(() => stdio.received === 3);
    const msgs = stdio.read();
    expect(msgs.map((m) => m.text)).toEqual(['first line', 'second lïne', 'third']);
    expect(msgs[0].from).toBe('1:0001.0000.0001');
    expect(stdio.size).toBe(0);
    await waitFor(() => events.length === 3);
    expect(events[1]).toMatchObject({ topic: 'stdio.received', payload: { text: 'second lïne' } });
  });

  it('keeps a bounded inbox, dropping the oldest', async () => {
    const t = testNet();
    const stdio = new StdioService({ queueSize: 5 });
    await t.start(stdio, 2);
    const c = await t.node(1).dial(nodeAddr(2), 1000);
    c.end(Array.from({ length: 12 }, (_, i) => `l${i}\n`).join(''));
    await waitFor(() => stdio.received === 12);
    expect(stdio.dropped).toBe(7);
    expect(stdio.read(2).map((m) => m.text)).toEqual(['l7', 'l8']);
    expect(stdio.size).toBe(3);
  });

  it('splits over-long lines', async () => {
    const t = testNet();
    const stdio = new StdioService({ maxLineLength: 10 });
    await t.start(stdio, 2);
    const c = await t.node(1).dial(nodeAddr(2), 1000);
    c.end('a'.repeat(25) + '\n');
    await waitFor(() => stdio.received === 3);
    expect(stdio.read().map((m) => m.text.length)).toEqual([10, 10, 5]);
  });
});
