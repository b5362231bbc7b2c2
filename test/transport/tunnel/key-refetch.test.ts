/**
 * Key exchanges and the expected-key source:
 * - a PILA signed with a key other than the cached expected one makes the tunnel forget the cached key and ask
 *   once more (a peer that rotated its key is not refused until the cache expires), at most once per node per
 *   10 s;
 * - an unauthenticated PILK (when allowed) is refused while the key source cannot be asked: whether the node has
 *   a registered key, which would make the unauthenticated session a downgrade, is unknown.
 */
import { describe, expect, it } from 'vitest';
import type { ExpectedKeySource } from '../../../src/transport/key-source.js';
import { generateEd25519 } from '../../../src/transport/keys.js';
import { waitFor } from '../../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel-helpers.js';

/** A key source with a cache in front of the "registry" (`truth`), as RegistryKeySource has. */
class CachedKeys implements ExpectedKeySource {
  readonly cache = new Map<number, Buffer>();
  readonly truth = new Map<number, Buffer>();
  fetches = 0;
  expectedKey(nodeId: number): Promise<Buffer | null> {
    const hit = this.cache.get(nodeId);
    if (hit) return Promise.resolve(hit);
    this.fetches++;
    const k = this.truth.get(nodeId) ?? null;
    if (k) this.cache.set(nodeId, k);
    return Promise.resolve(k);
  }
  invalidate(nodeId: number): void {
    this.cache.delete(nodeId);
  }
}

describe('a key exchange with a key other than the cached one', () => {
  it('fetches the key again once, and accepts a peer that rotated its key', async () => {
    const rotated = generateEd25519();
    const keys = new CachedKeys();
    const a = await makeNode(1, {}, rotated);
    const b = await makeNode(2, { keys });
    introduce(a, b);
    keys.cache.set(1, Buffer.from(generateEd25519().publicKey)); // B still has A's old key cached
    keys.truth.set(1, Buffer.from(rotated.publicKey)); // the registry has the new one
    a.tunnel.send(datagram(1, 2, 'after rotation'));
    await waitFor(() => b.received.length === 1, 5000, 'datagram over the new key');
    expect(b.received[0].payload.toString()).toBe('after rotation');
    expect(keys.fetches).toBe(1);
    expect(b.tunnel.counters().drops.kx_wrong_key ?? 0).toBe(0);
  });

  it('refuses a key the source still does not confirm, asking at most once', async () => {
    const keys = new CachedKeys();
    const a = await makeNode(1, { kxRetryMs: 20, kxMaxAttempts: 4 });
    const b = await makeNode(2, { keys });
    introduce(a, b);
    const other = Buffer.from(generateEd25519().publicKey);
    keys.cache.set(1, other);
    keys.truth.set(1, other); // the registry agrees with the cache: A's key is wrong
    a.tunnel.send(datagram(1, 2, 'nope'));
    await waitFor(() => a.tunnel.counters().drops.kx_timeout === 1, 5000, 'kx timeout');
    expect(b.received).toHaveLength(0);
    expect(keys.fetches).toBe(1); // four PILAs, one refetch
    expect(b.tunnel.counters().drops.kx_wrong_key).toBeGreaterThanOrEqual(3);
  });
});

describe('an unauthenticated key exchange while the key source cannot be asked', () => {
  it('is refused, not installed', async () => {
    const down: ExpectedKeySource = { expectedKey: () => Promise.reject(new Error('registry unreachable')) };
    const a = await makeNode(1, {
      allowUnauthenticated: true,
      identity: undefined,
      kxRetryMs: 20,
      kxMaxAttempts: 3,
    });
    const b = await makeNode(2, { allowUnauthenticated: true, keys: down });
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'unauthenticated'));
    await waitFor(() => (b.tunnel.counters().drops.kx_unknown_key ?? 0) >= 1, 5000, 'refusal');
    await waitFor(() => a.tunnel.counters().drops.kx_timeout === 1, 5000, 'kx timeout');
    expect(b.received).toHaveLength(0);
    expect(b.tunnel.peer(1)?.encrypted ?? false).toBe(false);
  });
});
