/**
 * Audit 2: a stream that dies without an 'error' listener reports one reason everywhere. The write whose
 * callback was held (full send buffer) fails with the same error as `closeError` and `errored`, not a
 * generic reset that hides the retransmission limit or the idle timeout.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/streams/connection.js';
import type { StreamStackOptions } from '../../src/streams/stack.js';
import { faultPair, randomData, within } from './faults/fault-helpers.js';

const QUICK_DEATH: Partial<StreamStackOptions> = {
  initialRtoMs: 100,
  minRtoMs: 50,
  maxRtoMs: 200,
  maxRetransmits: 4,
  sendBuffer: 64 * 1024,
};

describe('audit2: reset reasons', () => {
  it('a held write fails with the reason the stream closed for (retransmission limit)', async () => {
    const p = await faultPair({ streams: QUICK_DEATH });
    const l = await p.b.streams.listen(1500);
    const accepted = l.accept();
    const c = await p.a.streams.dial(p.b.addr, 1500);
    const s = await accepted;
    s.on('error', () => {});
    // The peer vanishes: nothing gets through any more.
    p.relay.setFaults({ drop: 1 }, { drop: 1 });
    const writeErr = new Promise<(Error & { code?: string }) | null>((resolve) => {
      // Larger than the send buffer: the callback waits for room that never comes.
      c.write(randomData(512 * 1024, 3), (err) => resolve((err as Error | null) ?? null));
    });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    const err = await within(writeErr, 8000, 'held write fails');
    await within(closed, 2000, 'stream closed');
    expect(((c as Connection).closeError as (Error & { code?: string }) | null)?.code).toBe(
      'ERR_RETRANSMIT_LIMIT',
    );
    expect(err?.code).toBe('ERR_RETRANSMIT_LIMIT');
    expect((c.errored as (Error & { code?: string }) | null)?.code ?? null).toBe('ERR_RETRANSMIT_LIMIT');
    await l.close();
  });
});
