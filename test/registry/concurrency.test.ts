/**
 * Many clients at once: 1,000 concurrent clients (one connection each) register, heartbeat three times and
 * resolve a public node, against one registry.
 */
import { describe, expect, it } from 'vitest';
import { clientFor, makeIdentity, startTestRegistry } from './helpers.js';

describe('1,000 concurrent clients', () => {
  it('all register, heartbeat and resolve', async () => {
    const server = await startTestRegistry({ registrationRateLimit: { perMinute: 100_000 } });
    const started = Date.now();
    const ids = Array.from({ length: 1000 }, () => makeIdentity());
    const clients = ids.map((id) => clientFor(server, id, { timeoutMs: 15_000 }));
    const regs = await Promise.all(clients.map((c, i) => c.register({ listenAddr: `:${10_000 + i}` })));
    const nodeIds = new Set(regs.map((r) => r.node_id));
    expect(nodeIds.size).toBe(1000);
    expect(server.state.nodes.size).toBe(1000);
    await clients[0].setVisibility(true);
    for (let round = 0; round < 3; round++) {
      const beats = await Promise.all(clients.map((c) => c.heartbeat()));
      expect(beats.every((b, i) => b.node_id === regs[i].node_id)).toBe(true);
    }
    const resolved = await Promise.all(clients.map((c) => c.resolve(regs[0].node_id)));
    expect(resolved.every((r) => r.real_addr === '127.0.0.1:10000')).toBe(true);
    expect(server.stats().connections).toBe(1000);
    // Heartbeat signatures are deterministic: each node's was verified once.
    expect(server.stats().signatureCacheHits).toBeGreaterThanOrEqual(2000);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);
});
