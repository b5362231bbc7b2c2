/**
 * The IPC server over real pilot streams (two nodes on loopback, encrypted tunnel): a client that reads
 * slower than the peer sends makes the daemon pause its stream (the client's window is used up), the
 * daemon's receive window closes, and the peer stops. When the client reads again, the daemon resumes the
 * stream and must reopen the window at once. Zero-window probes are pushed out to a minute here, so a
 * missing window update would hang the transfer (pilot bench lost up to a second per stall to it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { connect } from '../../src/ipc/index.js';
import { createIpcServer } from '../../src/ipc/server.js';
import { waitFor } from '../helpers/wait.js';
import { pair } from '../streams/helpers.js';
import { FakeControl, tempSocketPath } from './helpers.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const TOTAL = 2 * 1024 * 1024;

describe('IPC over real streams: flow control', () => {
  it('a client that pauses and resumes gets every byte without waiting for a zero-window probe', async () => {
    const streams = {
      recvWindow: 128 * 1024,
      zeroWindowProbeMinMs: 60_000,
      zeroWindowProbeMaxMs: 60_000,
      pmtuDiscovery: false,
    };
    const { a, b } = await pair(streams);

    const data = randomBytes(TOTAL);
    const l = await b.streams.listen(1000);
    let sender: Stream | null = null;
    void (async () => {
      for await (const s of l) {
        sender = s;
        s.on('error', () => {});
        s.end(data);
      }
    })();

    const control = new FakeControl(a.addr);
    const server = await createIpcServer({ socketPath: tempSocketPath(), streams: a.streams, control });
    onTestFinished(() => server.close());
    const driver = await connect(server.socketPath, { recvWindow: 16 * 1024 });
    onTestFinished(() => driver.close());

    const s = await driver.dial(b.addr, 1000);
    s.pause();
    // The daemon holds its stream once the client's window is used up; the peer then sees a closed window.
    await waitFor(
      () =>
        sender !== null &&
        sender.stats().peerRecvWindow < sender.stats().mss &&
        sender.stats().inFlight === 0,
      10_000,
      'the peer blocked by a closed window',
    );
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const ended = once(s, 'end');
    s.resume();
    await ended;
    const got = Buffer.concat(chunks);
    expect(got.length).toBe(TOTAL);
    expect(sha(got)).toBe(sha(data));
    s.destroy();
  }, 20_000);
});
