/**
 * Window updates when the two sides use different segment sizes. The sender probed the path MTU up to 16 KiB
 * segments; the receiver did not (pmtuDiscovery off). The receiver must measure "room for two segments" in
 * the peer's segment size, not its own: a first small update (4 KiB) would otherwise leave the sender
 * blocked (room < its segment) while the receiver thinks its window is open and never announces it again.
 * Zero-window probes are pushed to a minute here, so a missed update would hang the transfer.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Stream } from '../../src/coreapi/index.js';
import { createStaticNode } from '../../src/node/static-node.js';
import { waitFor } from '../helpers/wait.js';
import { randomData } from '../streams/helpers.js';

const WINDOW = 128 * 1024;
const TOTAL = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function run(receiverPmtu: boolean): Promise<{ ms: number; got: Buffer; data: Buffer }> {
  const common = {
    recvWindow: WINDOW,
    sendBuffer: 256 * 1024,
    zeroWindowProbeMinMs: 60_000,
    zeroWindowProbeMaxMs: 60_000,
  };
  const a = await createStaticNode({ nodeId: 1, streams: { ...common, pmtuDiscovery: true } });
  onTestFinished(() => a.close());
  const b = await createStaticNode({ nodeId: 2, streams: { ...common, pmtuDiscovery: receiverPmtu } });
  onTestFinished(() => b.close());
  a.addPeer(b.peerEntry());
  b.addPeer(a.peerEntry());
  const l = await b.streams.listen(1000);
  const accepted = l.accept();
  const c = (await a.streams.dial(b.addr, 1000)) as Stream & { mss: number };
  const s = (await accepted) as Stream & { mss: number };
  c.on('error', () => {});
  s.on('error', () => {});
  s.pause();
  // The sender's path-MTU probe raises its segment size to 16 KiB.
  await waitFor(() => c.mss === 16384, 5000, 'sender mss 16384');
  if (receiverPmtu) await waitFor(() => s.mss === 16384, 5000, 'receiver mss 16384');
  const data = randomData(TOTAL, 3);
  void (async () => {
    for (let off = 0; off < data.length; off += 16 * 1024) {
      if (!c.write(data.subarray(off, off + 16 * 1024))) await once(c, 'drain');
    }
    c.end();
  })().catch(() => {});
  await waitFor(
    () => c.stats().peerRecvWindow < c.stats().mss && c.stats().inFlight === 0,
    10_000,
    'blocked',
  );
  // A reader that consumes 1 KiB per turn of the event loop (a framed protocol handling one small message
  // at a time).
  const chunks: Buffer[] = [];
  const t0 = performance.now();
  const ended = once(s, 'end');
  ended.catch(() => {});
  let done = false;
  void ended.then(
    () => (done = true),
    () => (done = true),
  );
  const step = (): void => {
    if (done) return;
    let chunk: Buffer | null;
    while (
      (chunk = s.read(1024) as Buffer | null) === null &&
      s.readableLength > 0 &&
      s.readableLength < 1024
    ) {
      chunk = s.read() as Buffer | null; // tail smaller than 1 KiB
      if (chunk) break;
    }
    if (chunk) chunks.push(chunk);
    setImmediate(step);
  };
  step();
  const timeout = new Promise<never>((_r, rej) => {
    const t = setTimeout(
      () =>
        rej(
          new Error(
            `transfer stalled: ${Buffer.concat(chunks).length} of ${TOTAL} bytes after 5 s; sender peerRecvWindow=${c.stats().peerRecvWindow} mss=${c.stats().mss} pending, receiver recvWindow=${s.stats().recvWindow} readableLength=${s.readableLength}`,
          ),
        ),
      5000,
    );
    void ended.finally(() => clearTimeout(t)).catch(() => {});
  });
  await Promise.race([ended, timeout]);
  return { ms: performance.now() - t0, got: Buffer.concat(chunks), data };
}

describe('window updates with asymmetric segment sizes', () => {
  it('control: both sides at 16 KiB segments, a slow small-read reader gets everything promptly', async () => {
    const { got, data } = await run(true);
    expect(sha(got)).toBe(sha(data));
  }, 20_000);

  it('receiver at the base MSS, sender at 16 KiB: the window update must not leave the sender stuck', async () => {
    const { got, data } = await run(false);
    expect(sha(got)).toBe(sha(data));
  }, 20_000);
});
