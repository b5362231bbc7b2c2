/**
 * Audit of the snapshot saver: `server.flush()` and `server.close()` promise that the state is in the store when
 * they resolve, so a failing save must reject them (the CLI reports "final save failed" and exits 1 on it).
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore, RegistryStoreError } from '../../src/registry/index.js';
import type { SnapshotSource } from '../../src/registry/snapshot-types.js';
import { registerNode, startTestRegistry } from './helpers.js';

/** A memory store whose saves fail while `failing` is set. */
class FlakyStore extends MemoryStore {
  failing = false;
  attempts = 0;

  override async save(snapshot: SnapshotSource): Promise<void> {
    this.attempts++;
    if (this.failing) throw new RegistryStoreError('ERR_REGISTRY_STORE_IO', 'disk full (test)');
    await super.save(snapshot);
  }
}

describe('audit: save failures are reported', () => {
  it('flush() rejects when the save fails, and succeeds once the store recovers', async () => {
    const store = new FlakyStore();
    const server = await startTestRegistry({ store, saveDebounceMs: 60_000 });
    const a = await registerNode(server);
    store.failing = true;
    await expect(server.flush()).rejects.toMatchObject({ code: 'ERR_REGISTRY_STORE_IO' });
    expect(store.attempts).toBeGreaterThanOrEqual(1);
    expect(store.data?.nodes[String(a.nodeId)]).toBeUndefined();

    store.failing = false;
    await server.flush();
    expect(store.data?.nodes[String(a.nodeId)]?.public_key).toBe(a.id.publicKeyB64);
  });

  it('close() rejects when the final save fails', async () => {
    const store = new FlakyStore();
    const server = await startTestRegistry({ store, saveDebounceMs: 60_000 });
    await registerNode(server);
    store.failing = true;
    await expect(server.close()).rejects.toMatchObject({ code: 'ERR_REGISTRY_STORE_IO' });
    expect(server.stats().saveFailures).toBeGreaterThanOrEqual(1);
  });
});
