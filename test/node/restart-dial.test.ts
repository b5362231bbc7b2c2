import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode } from '../../src/node/node.js';

it('a restarted node (same identity, new port) can dial a peer that still holds its old session, and be dialled', async () => {
  const d = mkdtempSync(join(tmpdir(), 'pilot-rd-'));
  onTestFinished(() => rmSync(d, { recursive: true, force: true }));
  const a = await createNode({
    logger: silentLogger,
    dataDir: join(d, 'a'),
    ipc: false,
    embeddedRegistry: '127.0.0.1:0',
    embeddedBeacon: '127.0.0.1:0',
    public: true,
  });
  onTestFinished(() => a.stop());
  const bOpts = {
    logger: silentLogger,
    dataDir: join(d, 'b'),
    ipc: false,
    public: true,
    registry: a.registryAddr,
    identity: join(d, 'b', 'id.json'),
  };
  const b1 = await createNode(bOpts);
  const s1 = await b1.streams.dial(a.addr, 7);
  s1.end('one');
  for await (const _ of s1) void _;
  await b1.stop();
  const b2 = await createNode(bOpts);
  onTestFinished(() => b2.stop());
  const t0 = Date.now();
  const s2 = await b2.streams.dial(a.addr, 7, { timeoutMs: 8000 });
  const dialMs = Date.now() - t0;
  s2.end('two');
  const chunks: Buffer[] = [];
  for await (const c of s2) chunks.push(c as Buffer);
  expect(Buffer.concat(chunks).toString()).toBe('two');
  // And the other way round: A dials the restarted B.
  const t1 = Date.now();
  const s3 = await a.streams.dial(b2.addr, 7, { timeoutMs: 8000 });
  const backMs = Date.now() - t1;
  s3.end('three');
  const back: Buffer[] = [];
  for await (const c of s3) back.push(c as Buffer);
  expect(Buffer.concat(back).toString()).toBe('three');
  console.log('dial after restart', dialMs, 'ms; dial back', backMs, 'ms');
});
