/**
 * Audit 2: one local client cannot take every connection of the node. Dials beyond its share fail with
 * ERR_TOO_MANY_CONNECTIONS, inbound connections beyond it are reset, and other clients are unaffected.
 */
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { addrToBytes, makeAddr } from '../../src/coreapi/addr.js';
import type { Stream } from '../../src/coreapi/streams.js';
import { connect } from '../../src/ipc/connect.js';
import { Cmd } from '../../src/ipc/constants.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { nextEvent } from '../helpers/wait.js';
import { RawClient, startDaemon } from './helpers.js';

const NODE = makeAddr(1, 0x0a);
const PEER = makeAddr(1, 0x0b);
const MAX = 4;

async function setup() {
  const net = createMemoryNetwork();
  const daemon = await startDaemon(net, NODE, { maxConnsPerClient: MAX });
  onTestFinished(async () => {
    await daemon.close();
    await net.close();
  });
  const peer = net.node(PEER);
  const l = await peer.listen(7);
  const accepted: Stream[] = [];
  void (async () => {
    for await (const s of l) {
      s.on('error', () => {});
      accepted.push(s);
    }
  })();
  onTestFinished(() => l.close());
  return { daemon, peer, accepted };
}

describe('IPC server, per-client connection limit', () => {
  it('refuses dials beyond the client’s share; other clients still dial; a freed slot is reusable', async () => {
    const { daemon } = await setup();
    const hog = await connect(daemon.socketPath);
    onTestFinished(() => hog.close());
    const streams: Stream[] = [];
    for (let i = 0; i < MAX; i++) streams.push((await hog.dial(PEER, 7)).on('error', () => {}));
    await expect(hog.dial(PEER, 7)).rejects.toMatchObject({ code: 'ERR_TOO_MANY_CONNECTIONS' });
    // Another client is not starved.
    const other = await connect(daemon.socketPath);
    onTestFinished(() => other.close());
    const s = await other.dial(PEER, 7);
    s.destroy();
    // Resetting one of its connections frees a slot.
    const gone = once(streams[0], 'close');
    streams[0].destroy();
    await gone;
    await expect
      .poll(() =>
        hog
          .dial(PEER, 7)
          .then((x) => (x.destroy(), true))
          .catch(() => false),
      )
      .toBe(true);
  });

  it('a reference client gets an Error for a Dial beyond its share, in request order', async () => {
    const { daemon } = await setup();
    const raw = await RawClient.connect(daemon.socketPath);
    const dial = Buffer.concat([Buffer.from([Cmd.Dial]), addrToBytes(PEER), Buffer.from([0, 7])]);
    for (let i = 0; i < MAX; i++) raw.send(dial);
    raw.send(dial);
    raw.send(Buffer.from([Cmd.Info]));
    for (let i = 0; i < MAX; i++) expect((await raw.next())[0]).toBe(Cmd.DialOK);
    const refused = await raw.next();
    expect(refused[0]).toBe(Cmd.Error);
    expect(refused.subarray(3).toString()).toMatch(/too many connections/);
    expect((await raw.next())[0]).toBe(Cmd.InfoOK);
  });

  it('inbound connections to its ports beyond its share are reset', async () => {
    const { daemon, peer } = await setup();
    const hog = await connect(daemon.socketPath);
    onTestFinished(() => hog.close());
    for (let i = 0; i < MAX; i++) (await hog.dial(PEER, 7)).on('error', () => {});
    const l = await hog.listen(1000);
    const inbound = await peer.dial(NODE, 1000);
    const [err] = await nextEvent<[{ code?: string }]>(inbound, 'error', 3000);
    expect(err.code).toBe('ERR_CONNECTION_RESET');
    await l.close();
  });
});
