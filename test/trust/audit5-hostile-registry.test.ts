/**
 * Audit: answers from the registry are input like any other. Before:
 * - a poll_handshakes answer whose `requests` / `responses` was not a list (an object, a number) made
 *   `poll()` reject, and the poll timer calls it as `void this.poll()`: an unhandled rejection, which ends the
 *   daemon process;
 * - a lookup answer with network IDs outside 1..65535 (or not integers) auto-approved the peer "by shared
 *   network" and wrote that network into trust.json, which the next start refused as
 *   ERR_TRUST_STORE_CORRUPT: the daemon could not start again;
 * - a lookup answer whose `public_key` was not a string was stored as is (same corrupt trust.json), or threw
 *   out of the inbound check instead of dropping the message.
 * The registry here is the real one; only its answers to the manager are rewritten, as a hostile or broken
 * registry (or a man in the middle of a plain TCP connection) would send them.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PilotNode } from '../../src/node/node.js';
import {
  createHandshakeMessage,
  encodeHandshakeMessage,
  HandshakeType,
  TrustState,
  type TrustRegistry,
} from '../../src/node/trust/index.js';
import { fromPeer, managerFor, nextBusEvent, startCluster, startManager, tempDir } from './helpers.js';

/** The node's real registry client, with some answers replaced. */
function rewritten(node: PilotNode, over: Partial<Record<keyof TrustRegistry, unknown>>): TrustRegistry {
  const r = node.registry;
  const real: TrustRegistry = {
    lookup: (id, o) => r.lookup(id, o),
    requestHandshake: (id, j, o) => r.requestHandshake(id, j, o),
    pollHandshakes: (o) => r.pollHandshakes(o),
    respondHandshake: (id, a, o) => r.respondHandshake(id, a, o),
    reportTrust: (id, o) => r.reportTrust(id, o),
    revokeTrust: (id, o) => r.revokeTrust(id, o),
  };
  return { ...real, ...(over as Partial<TrustRegistry>) };
}

/** Send a signed request from `from` straight to `to`'s port 444. */
async function directRequest(from: PilotNode, to: PilotNode, justification: string): Promise<void> {
  const m = createHandshakeMessage(from.identity, HandshakeType.Request, to.nodeId, {
    justification,
    timestampS: Math.floor(Date.now() / 1000),
  });
  const s = await from.streams.dial(to.addr, 444, { timeoutMs: 3000 });
  s.on('error', () => {});
  s.resume();
  const closed = new Promise((r) => s.once('close', r));
  s.end(encodeHandshakeMessage(m));
  await closed;
}

describe('hostile registry answers', () => {
  it('poll() does not reject on poll answers whose lists are not lists', async () => {
    const [a] = await startCluster(1, { public: true });
    let answer: unknown = { requests: [], responses: [] };
    const ta = await startManager(a, {
      pollIntervalMs: 0,
      registry: rewritten(a, { pollHandshakes: () => Promise.resolve(answer) }),
    });
    for (const bad of [{ requests: {} }, { requests: 5 }, { responses: { 0: 1 } }, null, 'x']) {
      answer = bad;
      await expect(ta.poll()).resolves.toBeUndefined();
    }
    expect(ta.counters().pollErrors).toBe(5);
  });

  it('out-of-range network IDs do not auto-approve, and trust.json stays loadable', async () => {
    const dir = tempDir();
    const [a, c] = await startCluster(2, { public: true });
    const storeA = join(dir, 'trust.json');
    const lookup: TrustRegistry['lookup'] = async (id, o) => ({
      ...(await a.registry.lookup(id, o)),
      networks: [70_000, 1.5, -3, 'x' as unknown as number],
    });
    const ta = await startManager(a, { storePath: storeA, registry: rewritten(a, { lookup }) });
    const pending = nextBusEvent(a.events, 'handshake.pending', fromPeer(c.nodeId));
    await directRequest(c, a, 'hello');
    await pending;
    expect(ta.stateOf(c.nodeId)).toBe(TrustState.Pending);
    await ta.stop();
    // The store it wrote can be read again.
    const again = managerFor(a, { storePath: storeA });
    await expect(again.start()).resolves.toBeUndefined();
    expect(again.stateOf(c.nodeId)).toBe(TrustState.Pending);
  });

  it('a public_key that is not a string drops the message as lookup_failed and stores nothing', async () => {
    const dir = tempDir();
    const [a, c] = await startCluster(2, { public: true });
    const storeA = join(dir, 'trust.json');
    const lookup: TrustRegistry['lookup'] = async (id, o) => ({
      ...(await a.registry.lookup(id, o)),
      public_key: 12345 as unknown as string,
    });
    const ta = await startManager(a, { storePath: storeA, registry: rewritten(a, { lookup }) });
    const dropped = nextBusEvent(a.events, 'security.handshake_dropped', fromPeer(c.nodeId));
    await directRequest(c, a, 'hello');
    expect(await dropped).toMatchObject({ reason: 'lookup_failed' });
    expect(ta.stateOf(c.nodeId)).toBe(TrustState.None);
  });
});
