/**
 * Audit 6: §11 node events. A node deregistered by a local client (IPC Deregister) published nothing, so a
 * webhook or event-stream subscriber never learnt that the node had left the registry (the heartbeat's later
 * re-registration then published node.reregistered out of nowhere).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode } from '../../src/node/node.js';
import { createNodeControl } from '../../src/node/node-control.js';
import { startRegistry } from '../../src/registry/index.js';
import { within } from '../helpers/wait.js';

describe('audit6: node.deregistered', () => {
  it('is published when a local client deregisters the node, with its node ID', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-audit6-ev-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
    onTestFinished(() => reg.close());
    const { port } = reg.address as { host: string; port: number };
    const node = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'n'),
      ipc: false,
      trustManager: false,
      registry: `127.0.0.1:${port}`,
    });
    onTestFinished(() => node.stop());
    const sub = node.events.subscribe('node.deregistered');
    onTestFinished(() => sub.unsubscribe());
    const next = sub.next();
    await createNodeControl(node).deregister();
    const ev = await within(next, 2000, 'node.deregistered');
    expect(ev.topic).toBe('node.deregistered');
    expect(ev.payload).toMatchObject({ node_id: node.nodeId });
  });
});
