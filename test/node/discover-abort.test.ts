/**
 * createNode's abort signal also ends the beacon discovery step: a start aborted while the beacon stays silent
 * rejects with the abort's reason at once, instead of after the whole discovery timeout (5 s), and leaves nothing
 * bound behind.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode } from '../../src/node/node.js';
import { startRegistry } from '../../src/registry/index.js';

describe('createNode aborted during beacon discovery', () => {
  it('rejects with the abort reason without waiting out the discovery', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-discover-abort-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
    onTestFinished(() => reg.close());
    const { port } = reg.address as { port: number };
    // A "beacon" that receives Discovers and never answers; the abort comes with the first one.
    const beacon = createSocket('udp4');
    await new Promise<void>((r) => beacon.bind(0, '127.0.0.1', () => r()));
    onTestFinished(() => {
      beacon.close();
    });
    const abort = new AbortController();
    const reason = new Error('stop now');
    beacon.once('message', () => abort.abort(reason));
    const err = await createNode({
      logger: silentLogger,
      dataDir: join(dir, 'data'),
      registry: `127.0.0.1:${port}`,
      beacon: `127.0.0.1:${beacon.address().port}`,
      listen: '127.0.0.1:0',
      ipc: false,
      trustManager: false,
      signal: abort.signal,
    }).catch((e: unknown) => e);
    expect(err).toBe(reason);
  }, 3_000); // the discovery alone would take 5 s
});
