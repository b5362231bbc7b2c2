import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Addr } from '../../src/coreapi/addr.js';
import type { Streams } from '../../src/coreapi/streams.js';
import {
  clearInbox,
  DataExchangeService,
  dataExchangeOptions,
  encodeFrame,
  FRAME_FILE,
  FRAME_TEXT,
  FrameReader,
  listInbox,
  listReceived,
  scanStorageUsage,
  sendFileData,
  sendMessage,
  StorageQuota,
  type DataExchangeHooks,
  type Frame,
} from '../../src/plugins/index.js';
import { collectEvents, nodeAddr, pseudoRandom, testNet, waitFor } from './helpers.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-dxq-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function setup(config: Record<string, unknown> = {}, hooks: DataExchangeHooks = {}, dir?: string) {
  const dataDir = dir ?? (await tempDir());
  const t = testNet();
  const service = new DataExchangeService({ dataDir, ...config }, hooks);
  await t.start(service, 2);
  return { t, service, dataDir, client: t.node(1), server: nodeAddr(2) };
}

const text = (s: string): Frame => ({ type: FRAME_TEXT, payload: Buffer.from(s) });
const file = (filename: string, bytes: number): Frame => ({
  type: FRAME_FILE,
  filename,
  payload: pseudoRandom(bytes, bytes),
});

/** Send `frames` on one stream, half-close, and collect every reply until the server ends the stream. */
async function exchange(client: Streams, server: Addr, frames: Frame[]): Promise<string[]> {
  const s = await client.dial(server, 1001);
  onTestFinished(() => {
    s.destroy();
  });
  const reader = new FrameReader();
  const replies: string[] = [];
  s.on('data', (c: Buffer) => {
    reader.push(c);
    for (let f = reader.read(); f; f = reader.read()) replies.push(f.payload.toString());
  });
  const ended = new Promise((r) => s.once('end', r));
  s.write(Buffer.concat(frames.map((f) => encodeFrame(f))));
  s.end();
  await ended;
  return replies;
}

describe('data exchange storage quota', () => {
  it('rejects the message past maxInboxMessages, keeps the stream open and reports it', async () => {
    const { t, client, server, dataDir, service } = await setup({ maxInboxMessages: 3 });
    const { events } = collectEvents(t.bus, 'message.rejected');
    const replies = await exchange(client, server, [
      text('m1'),
      text('m2'),
      text('m3'),
      text('m4!'),
      file('after.txt', 5),
    ]);
    expect(replies.slice(0, 3)).toEqual(['ACK TEXT 2 bytes', 'ACK TEXT 2 bytes', 'ACK TEXT 2 bytes']);
    expect(replies[3]).toMatch(/^ERR TEXT quota exceeded: .*3 of 3 messages.*maxInboxMessages/);
    // Same stream, a frame that fits (received files do not count as messages) is still accepted.
    expect(replies[4]).toBe('ACK FILE 5 bytes');

    expect((await listInbox(dataDir)).map((m) => m.data).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(await listReceived(dataDir)).toHaveLength(1);
    expect(service.stats).toMatchObject({ messages: 3, files: 1, quotaRejected: 1, saveErrors: 0 });
    expect(service.usage.inboxMessages).toBe(3);

    await waitFor(() => events.length === 1, 5000, 'message.rejected');
    expect(events[0].payload).toEqual({ from: '1:0001.0000.0001', type: 'TEXT', bytes: 3, reason: 'quota' });
    // A new connection is served as well, and is still refused while the inbox is full.
    expect(await sendMessage(client, server, 'json', '{}')).toMatch(/^ERR JSON quota exceeded: /);
    expect(service.stats.quotaRejected).toBe(2);
  });

  it('re-scans (at most once a second) and accepts again after inbox files were deleted', async () => {
    let clock = 0;
    const { client, server, dataDir, service } = await setup({ maxInboxMessages: 2 }, { now: () => clock });
    expect(await sendMessage(client, server, 'text', 'a')).toBe('ACK TEXT 1 bytes');
    expect(await sendMessage(client, server, 'text', 'b')).toBe('ACK TEXT 1 bytes');
    expect(await sendMessage(client, server, 'text', 'c')).toMatch(/^ERR TEXT quota exceeded: /);

    expect(await clearInbox(dataDir)).toBe(2); // what `pilot inbox --clear` does
    // Within the same second the previous scan stands.
    expect(await sendMessage(client, server, 'text', 'd')).toMatch(/^ERR TEXT quota exceeded: /);
    clock += 1000;
    expect(await sendMessage(client, server, 'text', 'e')).toBe('ACK TEXT 1 bytes');
    expect((await listInbox(dataDir)).map((m) => m.data)).toEqual(['e']);
    expect(service.usage.inboxMessages).toBe(1);

    // A re-scan that finds the inbox really full still rejects.
    expect(await sendMessage(client, server, 'text', 'f')).toBe('ACK TEXT 1 bytes');
    clock += 1000;
    expect(await sendMessage(client, server, 'text', 'g')).toMatch(/^ERR TEXT quota exceeded: /);
    expect((await listInbox(dataDir)).map((m) => m.data).sort()).toEqual(['e', 'f']);
    expect(service.stats.quotaRejected).toBe(3);
  });

  it('rejects a file frame over maxStoredBytes while a smaller one still fits', async () => {
    const { t, client, server, dataDir, service } = await setup({ maxStoredBytes: 1000 });
    const { events } = collectEvents(t.bus, 'message.rejected');
    const replies = await exchange(client, server, [
      file('a.bin', 600),
      file('b.bin', 500),
      file('c.bin', 400),
      file('d.bin', 1),
    ]);
    expect(replies[0]).toBe('ACK FILE 600 bytes');
    expect(replies[1]).toMatch(
      /^ERR FILE quota exceeded: 500 bytes do not fit, 600 of 1000 .*maxStoredBytes/,
    );
    expect(replies[2]).toBe('ACK FILE 400 bytes');
    expect(replies[3]).toMatch(/^ERR FILE quota exceeded: /);

    const files = await listReceived(dataDir);
    expect(files.map((f) => [f.name.slice(0, 2), f.bytes])).toEqual([
      ['a-', 600],
      ['c-', 400],
    ]);
    expect(service.usage.storedBytes).toBe(1000);
    expect(service.stats).toMatchObject({ files: 2, quotaRejected: 2 });
    await waitFor(() => events.length === 2, 5000, 'message.rejected');
    expect(events.map((e) => e.payload.bytes)).toEqual([500, 1]);
    expect(events[0].payload).toMatchObject({ type: 'FILE', reason: 'quota' });
  });

  it('counts an inbox message by its size on disk', async () => {
    const { client, server, dataDir, service } = await setup();
    expect(await sendMessage(client, server, 'binary', Buffer.alloc(300, 7))).toBe('ACK BINARY 300 bytes');
    const [m] = await listInbox(dataDir);
    const onDisk = (await stat(m.file)).size;
    expect(onDisk).toBeGreaterThan(400); // base64 plus the JSON around it
    expect(service.usage).toEqual({ inboxMessages: 1, storedBytes: onDisk });
    expect(await scanStorageUsage(dataDir)).toEqual(service.usage);
  });

  it('counts what is already on disk at start', async () => {
    const dataDir = await tempDir();
    await mkdir(join(dataDir, 'inbox'));
    await mkdir(join(dataDir, 'received'));
    const msg = (data: string, ms: number) =>
      JSON.stringify({
        type: 'TEXT',
        from: '1:0001.0000.0009',
        data,
        bytes: data.length,
        received_at: `2024-01-01T00:00:00.00${ms}Z`,
      });
    await writeFile(join(dataDir, 'inbox', 'TEXT-20240101-000000.000.json'), msg('old one', 0));
    await writeFile(join(dataDir, 'inbox', 'TEXT-20240101-000000.001.json'), msg('old two', 1));
    await writeFile(join(dataDir, 'inbox', 'notes.txt'), 'not a message'); // bytes, but no message
    await writeFile(join(dataDir, 'received', 'big.bin'), Buffer.alloc(700));
    const before = await scanStorageUsage(dataDir);
    expect(before.inboxMessages).toBe(2);
    expect(before.storedBytes).toBe(2 * msg('old one', 0).length + 'not a message'.length + 700);

    const max = before.storedBytes + 300;
    const { client, server, service } = await setup(
      { maxInboxMessages: 3, maxStoredBytes: max },
      {},
      dataDir,
    );
    expect(service.usage).toEqual(before);

    expect(await sendFileData(client, server, 'too-big.bin', Buffer.alloc(301))).toMatch(
      /^ERR FILE quota exceeded: .*maxStoredBytes/,
    );
    expect(await sendMessage(client, server, 'text', 'new')).toBe('ACK TEXT 3 bytes');
    expect(await sendMessage(client, server, 'text', 'newer')).toMatch(
      /^ERR TEXT quota exceeded: .*3 of 3 messages/,
    );
    const room = max - service.usage.storedBytes;
    expect(room).toBeGreaterThan(0);
    expect(await sendFileData(client, server, 'fits.bin', Buffer.alloc(room))).toBe(`ACK FILE ${room} bytes`);
    expect(await sendFileData(client, server, 'one.bin', Buffer.alloc(1))).toMatch(
      /^ERR FILE quota exceeded: /,
    );

    expect((await listInbox(dataDir)).map((m) => m.data).sort()).toEqual(['new', 'old one', 'old two']);
    expect((await listReceived(dataDir)).map((f) => f.name.split('-')[0]).sort()).toEqual([
      'big.bin',
      'fits',
    ]);
    expect(await scanStorageUsage(dataDir)).toEqual({ inboxMessages: 3, storedBytes: max });
    expect(await readFile(join(dataDir, 'inbox', 'notes.txt'), 'utf8')).toBe('not a message');
  });

  it('starts from zero when the directories do not exist', async () => {
    const dataDir = join(await tempDir(), 'not', 'yet');
    const { client, server, service } = await setup({ maxInboxMessages: 1 }, {}, dataDir);
    expect(service.usage).toEqual({ inboxMessages: 0, storedBytes: 0 });
    expect(await sendMessage(client, server, 'text', 'first')).toBe('ACK TEXT 5 bytes');
    expect(await sendMessage(client, server, 'text', 'second')).toMatch(/^ERR TEXT quota exceeded: /);
  });

  it('gives the room back when a save fails', async () => {
    const blocker = join(await tempDir(), 'not-a-dir');
    await writeFile(blocker, 'x');
    const { client, server, service } = await setup({ dataDir: blocker, maxInboxMessages: 1 });
    expect(await sendMessage(client, server, 'text', 'one')).toMatch(/^ERR TEXT save failed: /);
    expect(await sendMessage(client, server, 'text', 'two')).toMatch(/^ERR TEXT save failed: /);
    expect(service.usage).toEqual({ inboxMessages: 0, storedBytes: 0 });
    expect(service.stats).toMatchObject({ saveErrors: 2, quotaRejected: 0 });
  });

  it('never lets concurrent senders overshoot the quota', async () => {
    const { client, server, dataDir, service } = await setup({ maxInboxMessages: 5 });
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => sendMessage(client, server, 'text', `msg ${i}`)),
    );
    expect(replies.filter((r) => r.startsWith('ACK '))).toHaveLength(5);
    expect(replies.filter((r) => /^ERR TEXT quota exceeded: /.test(r))).toHaveLength(7);
    expect(await listInbox(dataDir)).toHaveLength(5);
    expect(service.stats).toMatchObject({ messages: 5, quotaRejected: 7 });
  });

  it('shares one rate-limited re-scan between callers and keeps commits made during it', async () => {
    const dataDir = await tempDir();
    let clock = 0;
    const quota = new StorageQuota(
      dataDir,
      { maxInboxMessages: 2, maxStoredBytes: 100 },
      { now: () => clock },
    );
    await quota.scan();
    expect(quota.scans).toBe(1);
    const first = await quota.reserve(1, 10);
    if (!first.ok) throw new Error(first.reason);
    first.reservation.cancel();
    first.reservation.commit(); // ignored: already settled
    expect(quota.usage).toEqual({ inboxMessages: 0, storedBytes: 0 });

    const a = await quota.reserve(0, 60);
    if (!a.ok) throw new Error(a.reason);
    expect((await quota.reserve(0, 50)).ok).toBe(false); // 60 pending + 50 > 100, no re-scan yet
    expect(quota.scans).toBe(1);
    clock = 1000;
    const [b, c] = await Promise.all([quota.reserve(0, 50), quota.reserve(0, 50)]);
    expect(quota.scans).toBe(2); // one scan for both
    expect([b.ok, c.ok]).toEqual([false, false]);
    expect((await quota.reserve(0, 101)).ok).toBe(false); // can never fit: no re-scan
    clock = 5000;
    expect((await quota.reserve(0, 101)).ok).toBe(false);
    expect(quota.scans).toBe(2);

    // A commit that lands while a scan is running is not lost by that scan.
    const scanning = quota.scan();
    a.reservation.commit();
    await scanning;
    expect(quota.usage).toEqual({ inboxMessages: 0, storedBytes: 60 });
  });

  it('rejects bad quota config values naming the key', () => {
    expect(dataExchangeOptions({})).toMatchObject({ maxInboxMessages: 10000, maxStoredBytes: 1073741824 });
    expect(dataExchangeOptions({ maxInboxMessages: 1, maxStoredBytes: 2 })).toMatchObject({
      maxInboxMessages: 1,
      maxStoredBytes: 2,
    });
    for (const key of ['maxInboxMessages', 'maxStoredBytes']) {
      for (const bad of [0, -1, 1.5, 'x']) {
        let caught: unknown;
        try {
          new DataExchangeService({ [key]: bad });
        } catch (err) {
          caught = err;
        }
        expect(caught, `${key}=${String(bad)}`).toMatchObject({ code: 'ERR_INVALID_ARG', details: { key } });
        expect((caught as Error).message).toContain(`"${key}"`);
      }
    }
  });
});
