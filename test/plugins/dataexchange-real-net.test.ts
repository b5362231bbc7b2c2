/**
 * Data exchange between two real nodes (UDP tunnels on 127.0.0.1): what a remote peer is told, the client's
 * reply time limit, and frames sharing a chunk with a bad one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  DataExchangeService,
  encodeFrame,
  FRAME_TEXT,
  FrameReader,
  listInbox,
  listReceived,
  sendFileData,
  sendMessage,
} from '../../src/plugins/index.js';
import { realNet, startOnB } from './real-net.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-dx-net-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('data exchange over real sockets', () => {
  it('answers a failed save with the errno code only, never a local path', async () => {
    const dir = await tempDir();
    // The data directory lies below a regular file: every save fails with ENOTDIR.
    await writeFile(join(dir, 'not-a-dir'), 'x');
    const dataDir = join(dir, 'not-a-dir', 'data');
    const net = await realNet();
    const service = await startOnB(net, new DataExchangeService({ dataDir }));
    const fileReply = await sendFileData(net.a.streams, net.b.addr, 'report.txt', Buffer.from('x'));
    expect(fileReply).toBe('ERR FILE save failed: ENOTDIR');
    const textReply = await sendMessage(net.a.streams, net.b.addr, 'text', 'hello');
    expect(textReply).toBe('ERR TEXT save failed: ENOTDIR');
    expect(service.stats.saveErrors).toBe(2);
  });

  it('saves a FILE with a long non-ASCII name and ACKs it', async () => {
    const dataDir = await tempDir();
    const net = await realNet();
    await startOnB(net, new DataExchangeService({ dataDir }));
    const reply = await sendFileData(net.a.streams, net.b.addr, `${'文'.repeat(100)}.txt`, Buffer.from('x'));
    expect(reply).toBe('ACK FILE 1 bytes');
    const [file] = await listReceived(dataDir);
    expect(file.name).toMatch(/^文+-\d{8}-\d{6}\.\d{3}\.txt$/);
    expect(Buffer.byteLength(file.name)).toBeLessThanOrEqual(255);
  });

  it('timeoutMs 0 (`--timeout 0`) waits for the reply without a time limit', async () => {
    const dataDir = await tempDir();
    const net = await realNet();
    await startOnB(net, new DataExchangeService({ dataDir }));
    const reply = await sendMessage(net.a.streams, net.b.addr, 'text', 'hello', { timeoutMs: 0 });
    expect(reply).toBe('ACK TEXT 5 bytes');
    expect((await listInbox(dataDir)).map((m) => m.data)).toEqual(['hello']);
  });

  it('saves and ACKs a valid frame that arrives in the same chunk as an oversized header, then closes', async () => {
    const dataDir = await tempDir();
    const net = await realNet();
    const service = await startOnB(net, new DataExchangeService({ dataDir }));
    const stream = await net.a.streams.dial(net.b.addr, 1001);
    stream.on('error', () => {});
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(FRAME_TEXT, 0);
    bad.writeUInt32BE(16 * 1024 * 1024 + 1, 4); // over the 16 MiB limit
    const replies: string[] = [];
    const reader = new FrameReader();
    const closed = new Promise<void>((resolve) => {
      stream.on('data', (c: Buffer) => {
        reader.push(c);
        for (let f = reader.read(); f; f = reader.read()) replies.push(f.payload.toString());
      });
      stream.on('close', () => resolve());
    });
    stream.write(Buffer.concat([encodeFrame({ type: FRAME_TEXT, payload: Buffer.from('keep me') }), bad]));
    await closed;
    expect(service.stats.badFrames).toBe(1); // the stream was closed for the bad frame
    expect(replies).toEqual(['ACK TEXT 7 bytes']);
    expect((await listInbox(dataDir)).map((m) => m.data)).toEqual(['keep me']);
  });
});
