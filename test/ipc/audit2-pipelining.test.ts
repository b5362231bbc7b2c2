/**
 * Audit 2: a local client that pipelines requests without reading the replies. The daemon must stop taking
 * requests from it while its replies cannot be written (bounded memory), and serve them all once it reads.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { Cmd } from '../../src/ipc/constants.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { waitFor } from '../helpers/wait.js';
import { RawClient, startDaemon, type TestDaemon } from './helpers.js';

const NODE = makeAddr(1, 0x0a);

async function setup(): Promise<TestDaemon> {
  const net = createMemoryNetwork();
  const daemon = await startDaemon(net, NODE);
  onTestFinished(async () => {
    await daemon.close();
    await net.close();
  });
  return daemon;
}

const infoCalls = (d: TestDaemon): number => d.control.calls.filter((c) => c.op === 'info').length;

describe('IPC server, a client that pipelines requests and does not read', () => {
  it('stops reading its requests while the replies back up, then serves them all in order', async () => {
    const daemon = await setup();
    // ~16 KiB per InfoOK: 4,000 of them would be 64 MiB queued in the daemon for a client that does not read.
    daemon.control.infoExtra = { pad: 'x'.repeat(16 * 1024) };
    const hog = await RawClient.connect(daemon.socketPath);
    hog.socket.pause();
    const N = 4000;
    const info = Buffer.from([0, 0, 0, 1, Cmd.Info]);
    hog.raw(Buffer.concat(Array.from({ length: N }, () => info)));
    await waitFor(() => infoCalls(daemon) >= 50, 5000, 'the daemon to start answering');
    // A round trip on another client: the daemon has run its loop well past the hog's first chunks.
    const other = await RawClient.connect(daemon.socketPath);
    other.send(Buffer.from([Cmd.Info]));
    expect((await other.next())[0]).toBe(Cmd.InfoOK);
    expect(infoCalls(daemon)).toBeLessThan(N / 4);
    // Once it reads, every request is answered, in order.
    hog.socket.resume();
    let got = 0;
    for (let i = 0; i < N; i++) {
      const m = await hog.next(5000);
      expect(m[0]).toBe(Cmd.InfoOK);
      got++;
    }
    expect(got).toBe(N);
    expect(infoCalls(daemon)).toBe(N + 1);
  });
});
