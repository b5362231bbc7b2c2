import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  clearInbox,
  clearReceived,
  DataExchangeService,
  encodeFrame,
  FRAME_BINARY,
  FRAME_FILE,
  FRAME_TEXT,
  FrameReader,
  listInbox,
  listReceived,
  sanitizeFilename,
  sendFile,
  sendFileData,
  sendFrame,
  sendMessage,
} from '../../src/plugins/index.js';
import { collectEvents, nodeAddr, pseudoRandom, testNet, waitFor } from './helpers.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-dx-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function setup(config: Record<string, unknown> = {}) {
  const dataDir = await tempDir();
  const t = testNet();
  const service = new DataExchangeService({ dataDir, ...config });
  await t.start(service, 2);
  return { t, service, dataDir, client: t.node(1), server: nodeAddr(2) };
}

describe('data exchange service (port 1001)', () => {
  it('ACKs TEXT, JSON and BINARY messages and stores them in the inbox', async () => {
    const { t, client, server, dataDir, service } = await setup();
    const { events } = collectEvents(t.bus, 'message.*');
    expect(await sendMessage(client, server, 'text', 'hello there')).toBe('ACK TEXT 11 bytes');
    expect(await sendMessage(client, server, 'json', '{"k":[1,2]}')).toBe('ACK JSON 11 bytes');
    const bin = pseudoRandom(1000, 4);
    expect(await sendMessage(client, server, FRAME_BINARY, bin)).toBe('ACK BINARY 1000 bytes');

    const inbox = await listInbox(dataDir);
    expect(inbox.map((m) => m.type)).toEqual(['TEXT', 'JSON', 'BINARY']);
    expect(inbox[0]).toMatchObject({ from: '1:0001.0000.0001', data: 'hello there', bytes: 11 });
    expect(inbox[0].received_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(inbox[0].file).toMatch(/inbox[/\\]TEXT-\d{8}-\d{6}\.\d{3}(-\d+)?\.json$/);
    expect(inbox[1].data).toBe('{"k":[1,2]}');
    expect(inbox[2].encoding).toBe('base64');
    expect(Buffer.from(inbox[2].data, 'base64').equals(bin)).toBe(true);
    expect(service.stats).toMatchObject({ connections: 3, messages: 3, files: 0 });

    await waitFor(() => events.length === 3);
    expect(events[0]).toMatchObject({ topic: 'message.received', payload: { type: 'TEXT', bytes: 11 } });
    expect(await clearInbox(dataDir)).toBe(3);
    expect(await listInbox(dataDir)).toEqual([]);
  });

  it('saves files under a sanitised name with identical content', async () => {
    const { t, client, server, dataDir } = await setup();
    const { events } = collectEvents(t.bus, 'file.received');
    const data = pseudoRandom(3 * 1024 * 1024 + 17, 8);
    const progress: number[] = [];
    const ack = await sendFileData(client, server, '../../etc/report.tar.gz', data, {
      onProgress: (sent) => progress.push(sent),
    });
    expect(ack).toBe(`ACK FILE ${data.length} bytes`);
    expect(progress.at(-1)).toBe(8 + 2 + '../../etc/report.tar.gz'.length + data.length);

    const files = await listReceived(dataDir);
    expect(files).toHaveLength(1);
    expect(files[0].name).toMatch(/^report\.tar-\d{8}-\d{6}\.\d{3}\.gz$/);
    expect(dirname(files[0].path)).toBe(join(dataDir, 'received'));
    expect(files[0].bytes).toBe(data.length);
    expect(sha256(await readFile(files[0].path))).toBe(sha256(data));
    await waitFor(() => events.length === 1);
    expect(events[0].payload).toMatchObject({ filename: '../../etc/report.tar.gz', bytes: data.length });
    expect(await clearReceived(dataDir)).toBe(1);
  });

  it('sends a file from disk and keeps two same-named files apart', async () => {
    const { client, server, dataDir } = await setup();
    const src = join(await tempDir(), 'notes.txt');
    await writeFile(src, 'some notes\n');
    expect(await sendFile(client, server, src)).toBe('ACK FILE 11 bytes');
    expect(await sendFile(client, server, src)).toBe('ACK FILE 11 bytes');
    const files = await listReceived(dataDir);
    expect(files).toHaveLength(2);
    for (const f of files) expect(await readFile(f.path, 'utf8')).toBe('some notes\n');
    await expect(sendFile(client, server, join(dataDir, 'missing'))).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
    });
  });

  it('stores a FILE frame without a name in the inbox', async () => {
    const { client, server, dataDir } = await setup();
    expect(await sendFileData(client, server, '', Buffer.from('anon'))).toBe('ACK FILE 4 bytes');
    const [m] = await listInbox(dataDir);
    expect(m.type).toBe('FILE');
    expect(Buffer.from(m.data, 'base64').toString()).toBe('anon');
    expect(await listReceived(dataDir)).toEqual([]);
  });

  it('answers several frames on one stream in order', async () => {
    const { client, server } = await setup();
    const s = await client.dial(server, 1001);
    const reader = new FrameReader();
    const replies: string[] = [];
    s.on('data', (c: Buffer) => {
      reader.push(c);
      for (let f = reader.read(); f; f = reader.read()) replies.push(f.payload.toString());
    });
    s.write(
      Buffer.concat([
        encodeFrame({ type: FRAME_TEXT, payload: Buffer.from('a') }),
        encodeFrame({ type: FRAME_BINARY, payload: Buffer.alloc(0) }),
        encodeFrame({ type: 9, payload: Buffer.from('??') }),
        encodeFrame({ type: FRAME_FILE, filename: 'x.bin', payload: Buffer.from('xyz') }),
      ]),
    );
    s.end();
    await new Promise((r) => s.once('end', r));
    expect(replies).toEqual([
      'ACK TEXT 1 bytes',
      'ACK BINARY 0 bytes',
      'ACK UNKNOWN(9) 2 bytes',
      'ACK FILE 3 bytes',
    ]);
  });

  it('closes a stream that announces an oversized frame, and keeps serving', async () => {
    const { client, server, service } = await setup();
    const s = await client.dial(server, 1001);
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => {});
    s.resume();
    const head = Buffer.alloc(8);
    head.writeUInt32BE(FRAME_TEXT, 0);
    head.writeUInt32BE(16 * 1024 * 1024 + 1, 4);
    s.write(head);
    await closed;
    await waitFor(() => service.stats.badFrames === 1);
    expect(await sendMessage(client, server, 'text', 'still here')).toBe('ACK TEXT 10 bytes');
  });

  it('answers ERR when saving fails', async () => {
    const blocker = join(await tempDir(), 'not-a-dir');
    await writeFile(blocker, 'x');
    const { client, server, service } = await setup({ dataDir: blocker });
    const reply = await sendMessage(client, server, 'text', 'hi');
    expect(reply).toMatch(/^ERR TEXT save failed: /);
    expect(service.stats.saveErrors).toBe(1);
  });

  it('reports refused, timed-out and oversized sends with typed errors', async () => {
    const t = testNet();
    t.node(2);
    await expect(sendMessage(t.node(1), nodeAddr(2), 'text', 'x')).rejects.toMatchObject({
      code: 'ERR_CONNECTION_REFUSED',
    });
    // A listener that never answers.
    const silent = await t.node(3).listen(1001);
    void (async () => {
      for await (const s of silent) s.on('error', () => {}).resume();
    })();
    await expect(sendMessage(t.node(1), nodeAddr(3), 'text', 'x', { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'ERR_DATAEXCHANGE_TIMEOUT',
    });
    await expect(
      sendFrame(t.node(1), nodeAddr(3), { type: FRAME_BINARY, payload: Buffer.alloc(16 * 1024 * 1024 + 1) }),
    ).rejects.toMatchObject({ code: 'ERR_DATAEXCHANGE_FRAME_TOO_LARGE' });
  });

  it('sanitises hostile file names', () => {
    expect(sanitizeFilename('../../../etc/passwd')).toBe('passwd');
    expect(sanitizeFilename('..\\..\\win.ini')).toBe('win.ini');
    expect(sanitizeFilename('..')).toBe('file');
    expect(sanitizeFilename('')).toBe('file');
    expect(sanitizeFilename('a\u0000b\nc.txt')).toBe('abc.txt');
    expect(sanitizeFilename('dir/')).toBe('dir');
    expect(sanitizeFilename('x'.repeat(500))).toHaveLength(200);
  });
});
