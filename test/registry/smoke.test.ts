import { describe, expect, it } from 'vitest';
import { registerNode, startTestRegistry } from './helpers.js';

describe('registry smoke', () => {
  it('registers, heartbeats and looks up', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { hostname: 'alpha', public: true });
    const hb = await a.client.heartbeat();
    expect(hb.node_id).toBe(a.nodeId);
    const l = await a.client.lookup(a.nodeId);
    expect(l.hostname).toBe('alpha');
    expect(l.real_addr).toBe('127.0.0.1:4000');
  });
});
