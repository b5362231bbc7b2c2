/**
 * Audit: the justification of a received request is stored in trust.json, up to `maxPending` (1024) of them,
 * and trust.json larger than 16 MiB is refused at start (ERR_TRUST_STORE_CORRUPT, never replaced). The
 * registry relay accepts justifications of 4096 characters; 4096 control characters are 24 KiB once
 * JSON-escaped, so about 680 hostile nodes each relaying one request grew trust.json past the limit, and the
 * next start of the daemon failed. A received justification is now kept to the 1024 UTF-8 bytes we allow when
 * sending, so a full pending list always fits.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_PENDING, MAX_STORE_BYTES, MAX_TEXT_BYTES } from '../../src/node/trust/constants.js';
import {
  createHandshakeMessage,
  encodeHandshakeMessage,
  HandshakeType,
  type TrustFileJson,
} from '../../src/node/trust/index.js';
import { fromPeer, nextBusEvent, startCluster, startManager, tempDir } from './helpers.js';

describe('received justifications are bounded', () => {
  it('a relayed request of 4096 control characters: a full pending list of them still fits trust.json', async () => {
    const dir = tempDir();
    const [a, c] = await startCluster(2, { public: true });
    const storeA = join(dir, 'trust.json');
    const ta = await startManager(a, { storePath: storeA, pollIntervalMs: 0 });
    await c.registry.requestHandshake(a.nodeId, '\u0001'.repeat(4096));
    const pending = nextBusEvent(a.events, 'handshake.pending', fromPeer(c.nodeId));
    await ta.poll();
    const ev = await pending;
    expect(Buffer.byteLength(ev.justification as string)).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    const row = ta.pending().pending[0];
    expect(row.node_id).toBe(c.nodeId);
    expect(row.justification).toBe('\u0001'.repeat(MAX_TEXT_BYTES));
    // One entry's share of the file, times the most entries there can be, is within what start() accepts.
    const size = statSync(storeA).size;
    expect((JSON.parse(readFileSync(storeA, 'utf8')) as TrustFileJson).pending).toHaveLength(1);
    expect(size * MAX_PENDING).toBeLessThanOrEqual(MAX_STORE_BYTES);
  });

  it('a direct request is cut at a character boundary, never inside a UTF-8 sequence', async () => {
    const [a, c] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const text = '€'.repeat(1200); // 3600 bytes of 3-byte characters: byte 1024 is inside the 342nd
    const m = createHandshakeMessage(c.identity, HandshakeType.Request, a.nodeId, {
      justification: text,
      timestampS: Math.floor(Date.now() / 1000),
    });
    const pending = nextBusEvent(a.events, 'handshake.pending', fromPeer(c.nodeId));
    const s = await c.streams.dial(a.addr, 444, { timeoutMs: 3000 });
    s.on('error', () => {});
    s.resume();
    s.end(encodeHandshakeMessage(m));
    await pending;
    expect(ta.pending().pending[0].justification).toBe('€'.repeat(Math.floor(MAX_TEXT_BYTES / 3)));
    s.destroy();
  });
});
