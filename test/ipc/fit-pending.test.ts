/**
 * The handshake `pending` reply always fits one IPC message (1 MiB): peers choose the justifications, and a
 * full pending list of long ones (control characters cost six bytes each in JSON) used to make the whole
 * reply an error, so the operator could see and approve no one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import type { JsonObject } from '../../src/ipc/daemon-control.js';
import { IPC_MAX_MESSAGE } from '../../src/ipc/constants.js';
import { fitPending, SHORT_JUSTIFICATION } from '../../src/ipc/fit-pending.js';
import { connect } from '../../src/ipc/index.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { startDaemon, type TestDaemon } from './helpers.js';

function rows(n: number, text: string): JsonObject[] {
  return Array.from({ length: n }, (_, i) => ({
    node_id: 1000 + i,
    public_key: 'a'.repeat(44),
    justification: text,
    received_at: 1_700_000_000 + i,
  }));
}

const size = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

describe('fitPending', () => {
  it('leaves a reply that fits unchanged', () => {
    const r = { pending: rows(3, 'hello') };
    expect(fitPending(r, 1_000_000)).toBe(r);
  });

  it('shortens every justification first, keeping every node', () => {
    const r = { pending: rows(1024, '\x01'.repeat(1024)) }; // ≈ 6 MiB of JSON
    expect(size(r)).toBeGreaterThan(IPC_MAX_MESSAGE);
    const f = fitPending(r, IPC_MAX_MESSAGE) as { pending: JsonObject[]; omitted?: number };
    expect(size(f)).toBeLessThanOrEqual(IPC_MAX_MESSAGE);
    expect(f.omitted).toBeUndefined();
    expect(f.pending.map((p) => p.node_id)).toEqual(r.pending.map((p) => p.node_id));
    expect(f.pending[0].justification).toBe(`${'\x01'.repeat(SHORT_JUSTIFICATION)}…`);
  });

  it('then keeps as many rows as fit and counts the rest; never splits a surrogate pair', () => {
    const text = `${'x'.repeat(SHORT_JUSTIFICATION - 1)}🙂 and more`;
    const r = { pending: rows(500, text) };
    const f = fitPending(r, 20_000) as { pending: JsonObject[]; omitted: number };
    expect(size(f)).toBeLessThanOrEqual(20_000);
    expect(f.pending.length).toBeGreaterThan(0);
    expect(f.pending.length + f.omitted).toBe(500);
    expect(f.pending[0].justification).toBe(`${'x'.repeat(SHORT_JUSTIFICATION - 1)}…`);
  });
});

describe('the pending reply over IPC', () => {
  let d: TestDaemon | null = null;
  afterEach(async () => {
    await d?.close();
    d = null;
  });

  it('answers a pending list far over 1 MiB with one that fits, not an error', async () => {
    const net = createMemoryNetwork();
    d = await startDaemon(net, makeAddr(0, 7));
    const huge = { pending: rows(1024, '\x1b'.repeat(1024)) };
    d.control.handshakePending = () => Promise.resolve(huge);
    const drv = await connect(d.socketPath);
    try {
      const r = (await drv.pendingHandshakes()) as { pending: JsonObject[] };
      expect(r.pending).toHaveLength(1024);
      expect(r.pending[1023].node_id).toBe(2023);
    } finally {
      drv.close();
    }
  });
});
