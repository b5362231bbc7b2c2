/**
 * Audit: the daemon side of the IPC control commands, driven over a real socket with hostile or odd values.
 * Every command must answer with a typed error and leave the daemon running and its state consistent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { connect } from '../../src/ipc/index.js';
import { createNode, type PilotNode } from '../../src/node/node.js';

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pilot-audit-node-'));
  onTestFinished(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function startNode(dir: string): Promise<PilotNode> {
  const n = await createNode({
    logger: silentLogger,
    dataDir: join(dir, 'n'),
    socket: join(dir, 'n.sock'),
    embeddedRegistry: '127.0.0.1:0',
    embeddedBeacon: '127.0.0.1:0',
    hostname: 'start-name',
  });
  onTestFinished(() => n.stop());
  return n;
}

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code ?? 'no code',
  );

describe('audit: IPC control commands with hostile values', () => {
  it('answers typed errors for bad hostnames, tags and ids, and keeps its state', async () => {
    const dir = tempDir();
    const node = await startNode(dir);
    const d = await connect(node.config.socket);
    onTestFinished(() => d.close());

    const huge = 'a'.repeat(1024 * 1024 - 64);
    const results = {
      hugeHost: await codeOf(d.setHostname(huge)),
      badHost: await codeOf(d.setHostname('Not A Hostname!')),
      unicodeHost: await codeOf(d.setHostname('h\u00e9llo\u0000')),
      hugeResolve: await codeOf(d.resolveHostname(huge)),
      emptyResolve: await codeOf(d.resolveHostname('')),
      hugeTags: await codeOf(d.setTags(['x'.repeat(300_000), 'y'.repeat(300_000), 'z'.repeat(300_000)])),
      badTags: await codeOf(d.setTags(['', 'UPPER'])),
      approveUnknown: await codeOf(d.approveHandshake(0xffffffff)),
      revokeUnknown: await codeOf(d.revokeTrust(0)),
      disconnectUnknown: await codeOf(d.disconnect(0xffffffff)),
      badWebhook: await codeOf(d.setWebhook('not a url')),
      ftpWebhook: await codeOf(d.setWebhook('ftp://127.0.0.1/x')),
    };
    for (const [what, code] of Object.entries(results)) {
      expect([what, code]).not.toEqual([what, 'resolved']);
      expect([what, code]).not.toEqual([what, 'ERR_INTERNAL']);
      expect([what, code]).not.toEqual([what, 'ERR_IPC_DISCONNECTED']);
    }
    // The daemon is still there, with its hostname unchanged.
    const info = (await d.info()) as { hostname: string; node_id: number };
    expect(info.node_id).toBe(node.nodeId);
    expect(info.hostname).toBe('start-name');
    expect((await node.registry.resolveHostname('start-name')).node_id).toBe(node.nodeId);
  });

  it('concurrent set-hostname calls leave Info and the registry agreeing', async () => {
    const dir = tempDir();
    const node = await startNode(dir);
    const d = await connect(node.config.socket);
    onTestFinished(() => d.close());
    const names = Array.from({ length: 20 }, (_, i) => `name-${i}`);
    await Promise.all([...names.map((n) => d.setHostname(n)), d.setHostname('')]);
    const info = (await d.info()) as { hostname: string };
    expect(info.hostname).toBe('');
    await expect(node.registry.resolveHostname('name-19')).rejects.toMatchObject({
      code: expect.any(String),
    });
    await d.setHostname('final-name');
    expect(((await d.info()) as { hostname: string }).hostname).toBe('final-name');
    expect((await node.registry.resolveHostname('final-name')).node_id).toBe(node.nodeId);
  });
});
