/**
 * Audit 3: empty FILE frames cost no bytes, so `maxStoredBytes` alone let a peer create any number of empty
 * files under `received/`. `maxReceivedFiles` counts them; refused files get the same `ERR FILE quota
 * exceeded: ...` reply, `message.rejected` event and `quotaRejected` stat as the byte quota. Driven over real
 * streams (UDP tunnels on 127.0.0.1).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import {
  clearReceived,
  countReceivedFiles,
  DataExchangeService,
  dataExchangeOptions,
  encodeFrame,
  FRAME_FILE,
  FRAME_TEXT,
  FrameReader,
  listInbox,
  listReceived,
  sendFileData,
  StorageQuota,
  type Frame,
} from '../../src/plugins/index.js';
import { collectEvents } from './helpers.js';
import { realNet, startOnB, type RealNet } from './real-net.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-audit3-dxq-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const emptyFile = (name: string): Frame => ({ type: FRAME_FILE, filename: name, payload: Buffer.alloc(0) });

/** Send `frames` on one stream, half-close, and collect every reply until the server ends the stream. */
async function exchange(net: RealNet, frames: Frame[]): Promise<string[]> {
  const s: Stream = await net.a.streams.dial(net.b.addr, 1001);
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

describe('audit3: data exchange file-count quota (real streams)', () => {
  it('refuses empty files past maxReceivedFiles with the quota reply, event and stat', async () => {
    const dataDir = await tempDir();
    const net = await realNet();
    const { events } = collectEvents(net.bus, 'message.rejected');
    const service = await startOnB(net, new DataExchangeService({ dataDir, maxReceivedFiles: 3 }));
    const replies = await exchange(
      net,
      Array.from({ length: 6 }, (_, i) => emptyFile(`empty-${i}.txt`)),
    );
    expect(replies).toHaveLength(6);
    expect(replies.slice(0, 3)).toEqual(['ACK FILE 0 bytes', 'ACK FILE 0 bytes', 'ACK FILE 0 bytes']);
    for (const r of replies.slice(3)) {
      expect(r).toMatch(/^ERR FILE quota exceeded: received\/ holds 3 of 3 files \(maxReceivedFiles\)$/);
    }
    expect(await listReceived(dataDir)).toHaveLength(3);
    expect(await countReceivedFiles(dataDir)).toBe(3);
    expect(service.receivedFiles).toBe(3);
    // Zero bytes stored: the byte quota alone never stopped them.
    expect(service.usage.storedBytes).toBe(0);
    expect(service.stats).toMatchObject({ files: 3, quotaRejected: 3, saveErrors: 0 });
    await expect.poll(() => events.length).toBe(3);
    expect(events[0].payload).toEqual({
      from: expect.any(String) as string,
      type: 'FILE',
      bytes: 0,
      reason: 'quota',
    });
    // The client helper sees the same refusal; messages are still accepted (their own count is separate).
    expect(await sendFileData(net.a.streams, net.b.addr, 'one-more', Buffer.alloc(0))).toMatch(
      /^ERR FILE quota exceeded: .*maxReceivedFiles/,
    );
    const [text] = await exchange(net, [{ type: FRAME_TEXT, payload: Buffer.alloc(0) }]);
    expect(text).toBe('ACK TEXT 0 bytes');
    expect(await listInbox(dataDir)).toHaveLength(1);
  });

  it('counts files already in received/ at start and frees room once they are deleted', async () => {
    const dataDir = await tempDir();
    await mkdir(join(dataDir, 'received'), { recursive: true });
    await writeFile(join(dataDir, 'received', 'old-a'), '');
    await writeFile(join(dataDir, 'received', 'old-b'), '');
    let clock = 0;
    const net = await realNet();
    const service = await startOnB(
      net,
      new DataExchangeService({ dataDir, maxReceivedFiles: 3 }, { now: () => clock }),
    );
    expect(service.receivedFiles).toBe(2);
    const replies = await exchange(net, [emptyFile('x'), emptyFile('y')]);
    expect(replies[0]).toBe('ACK FILE 0 bytes');
    expect(replies[1]).toMatch(/^ERR FILE quota exceeded: received\/ holds 3 of 3 files/);
    // Deleted behind the service's back: noticed by the (rate-limited) re-scan before refusing.
    expect(await clearReceived(dataDir)).toBe(3);
    clock += 10_000;
    expect(await sendFileData(net.a.streams, net.b.addr, 'z', Buffer.alloc(0))).toBe('ACK FILE 0 bytes');
    expect(service.receivedFiles).toBe(1);
    expect(await countReceivedFiles(dataDir)).toBe(1);
  });

  it('defaults to 10000 files, validates the key, and never lets concurrent saves overshoot', async () => {
    expect(dataExchangeOptions({}).maxReceivedFiles).toBe(10_000);
    expect(() => dataExchangeOptions({ maxReceivedFiles: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', details: { key: 'maxReceivedFiles' } }),
    );
    const dataDir = await tempDir();
    const quota = new StorageQuota(dataDir, {
      maxInboxMessages: 5,
      maxStoredBytes: 100,
      maxReceivedFiles: 2,
    });
    await quota.scan();
    const decisions = await Promise.all([
      quota.reserve(0, 0, 1),
      quota.reserve(0, 0, 1),
      quota.reserve(0, 0, 1),
    ]);
    expect(decisions.map((d) => d.ok)).toEqual([true, true, false]);
    expect(quota.receivedFiles).toBe(2);
    // Inbox messages do not use the file count.
    expect((await quota.reserve(1, 10)).ok).toBe(true);
    // Asking for more files than the limit can ever hold is refused without a re-scan.
    const scans = quota.scans;
    expect(await quota.reserve(0, 0, 3)).toMatchObject({ ok: false });
    expect(quota.scans).toBe(scans);
  });
});
