/**
 * Audit: `discover({ signal })` checked the signal only before resolving the beacon. An abort that came while the
 * beacon was being resolved (the daemon's start-up being cancelled) was missed: its 'abort' listener was added to
 * an already aborted signal, never fired, and discovery ran its whole timeout and then answered null.
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createNatTraversal } from '../../src/node/nat/index.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel } from '../../src/transport/tunnel.js';
import { within } from '../helpers/wait.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

describe('discover() and its abort signal', () => {
  it('an abort during the beacon resolution rejects ERR_ABORTED at once', async () => {
    const silent = await udp(); // a beacon that never answers
    let discovers = 0;
    silent.on('message', () => discovers++);
    const t = await createTunnel({ identity: generateEd25519() });
    onTestFinished(() => t.close());
    const nat = createNatTraversal({
      tunnel: t,
      beacon: `127.0.0.1:${silent.address().port}`,
      discoverTimeoutMs: 4000,
    });
    onTestFinished(() => nat.close());
    const ac = new AbortController();
    const p = nat.discover({ signal: ac.signal });
    ac.abort(); // the beacon's resolution (an await) has not finished yet
    const err = await within(
      p.then(
        (v) => ({ resolved: v }),
        (e: unknown) => e,
      ),
      1000,
      'aborted discovery',
    );
    expect(err).toMatchObject({ code: 'ERR_ABORTED' });
    expect(nat.stats().discoversSent).toBe(0);
    expect(discovers).toBe(0);
    // Still usable: a later discovery runs (and times out against the silent beacon).
    expect(await nat.discover({ timeoutMs: 50 })).toBeNull();
    expect(nat.stats().discoversSent).toBeGreaterThan(0);
  });
});
