/**
 * `driver.close()` with streams still open: data whose write already completed must reach the peer before a
 * clean end (it is not "unsent"), and against a reference daemon the driver must not put an extension
 * command (Reset, 0x3D) on the wire.
 */
import { createServer, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import type { Stream } from '../../src/coreapi/streams.js';
import { Cmd } from '../../src/ipc/constants.js';
import { connect } from '../../src/ipc/connect.js';
import { FrameDecoder } from '../../src/ipc/frame-decoder.js';
import { encodeMessage, frame } from '../../src/ipc/protocol.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { startDaemon, tempSocketPath } from './helpers.js';

const NODE = makeAddr(1, 0x0a);
const PEER = makeAddr(1, 0x0b);

/** What the peer of one accepted stream saw: its bytes and how it ended. */
function peerOutcome(s: Stream): Promise<{ data: string; how: string }> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    const done = (how: string): void => resolve({ data: Buffer.concat(chunks).toString(), how });
    s.once('end', () => done('end'));
    s.once('error', (e: Error & { code?: string }) => done(e.code ?? 'error'));
  });
}

describe('driver.close() with open streams', () => {
  it('delivers data whose write completed in the same tick, then ends the stream cleanly', async () => {
    const net = createMemoryNetwork();
    const daemon = await startDaemon(net, NODE);
    const peer = net.node(PEER);
    onTestFinished(async () => {
      await daemon.close();
      await net.close();
    });
    const l = await peer.listen(1000);
    const driver = await connect(daemon.socketPath);
    expect(driver.extended).toBe(true);
    const s = await driver.dial(PEER, 1000);
    s.on('error', () => {});
    const outcome = peerOutcome(await l.accept());
    await new Promise<void>((resolve) => s.write('hello ', () => resolve()));
    s.write('world');
    expect(s.writableLength).toBe(0); // the write completed at once: the driver took it
    await driver.close();
    expect(await outcome).toEqual({ data: 'hello world', how: 'end' });
  });

  it('never sends Reset to a reference daemon', async () => {
    const path = tempSocketPath();
    const seen: number[] = [];
    let closed!: () => void;
    const clientGone = new Promise<void>((resolve) => (closed = resolve));
    const server = createServer((sock: Socket) => {
      const dec = new FrameDecoder();
      sock.on('error', () => {});
      sock.on('close', () => closed());
      sock.on('data', (chunk: Buffer) => {
        dec.push(chunk);
        let m: Buffer | null;
        while ((m = dec.next()) !== null) {
          seen.push(m[0]);
          const reply = (r: Buffer): boolean => sock.write(frame(r));
          // A reference daemon: unknown commands get an Error; Info and Dial are answered.
          if (m[0] === Cmd.Info)
            reply(encodeMessage({ type: 'infoOK', json: { address: '1:0000.0000.000A' } }));
          else if (m[0] === Cmd.Dial) reply(encodeMessage({ type: 'dialOK', connId: 7 }));
          else if (m[0] === Cmd.Hello || m[0] === Cmd.Reset)
            reply(encodeMessage({ type: 'error', status: 1, text: 'unknown command' }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const driver = await connect(path, { helloTimeoutMs: 500 });
    expect(driver.extended).toBe(false);
    const s = await driver.dial(PEER, 1000);
    s.on('error', () => {});
    s.write('pending'); // its callback runs only once the socket wrote it: still "unsent" at close()
    await driver.close();
    await clientGone;
    expect(seen).toContain(Cmd.Send);
    expect(seen).not.toContain(Cmd.Reset);
  });
});
