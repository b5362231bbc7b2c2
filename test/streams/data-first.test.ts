/**
 * A data segment that also acknowledges our data is delivered to the application before the acknowledgement's
 * bookkeeping runs (connection.ts, onPacket): a reply written from the 'data' handler leaves sooner, and the
 * ACK is still processed in the same callback.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/index.js';
import { pair } from './helpers.js';

async function echoServer(b: Awaited<ReturnType<typeof pair>>['b'], port: number): Promise<void> {
  const l = await b.streams.listen(port);
  void (async () => {
    for await (const s of l) {
      s.setNoDelay(true);
      s.on('data', (c: Buffer) => s.write(c));
      s.on('end', () => s.end());
      s.on('error', () => {});
    }
  })();
}

/** Write `msg`; resolve with the bytes in flight seen inside the 'data' handler and one turn later. */
function exchange(s: Stream, msg: Buffer): Promise<{ during: number; after: number }> {
  return new Promise((resolve) => {
    s.once('data', () => {
      const during = s.stats().inFlight;
      setImmediate(() => resolve({ during, after: s.stats().inFlight }));
    });
    s.write(msg);
  });
}

describe('data before acknowledgement bookkeeping', () => {
  it('delivers a reply before processing the ACK it carries, and processes that ACK in the same callback', async () => {
    const { a, b } = await pair();
    await echoServer(b, 7);
    const s = await a.streams.dial(b.addr, 7);
    s.setNoDelay(true);
    const msg = Buffer.alloc(64, 1);
    for (let i = 0; i < 20; i++) {
      const r = await exchange(s, msg);
      // The reply acknowledges our request: unprocessed while the handler runs, processed right after.
      expect(r.during).toBe(64);
      expect(r.after).toBe(0);
    }
    const st = s.stats();
    expect(st.srttMs).toBeGreaterThan(0);
    expect(st.srttMs).toBeLessThan(1000);
    // A stall of the test process can fire a tail-loss probe (a spurious resend); lost ACK processing would
    // resend on every one of the 20 exchanges.
    expect(st.retransmits).toBeLessThanOrEqual(2);
    s.end();
    await once(s, 'close');
  });

  it('a data handler that destroys its stream stops the packet there (no ACK processing on a closed stream)', async () => {
    const { a, b } = await pair();
    const l = await b.streams.listen(9);
    const serverSide = (async () => {
      const s = await l.accept();
      s.on('error', () => {});
      s.write('ready');
      // The client's next segment carries data and acknowledges "ready": destroy while handling it.
      await once(s, 'data');
      s.destroy();
      return s;
    })();
    const c = await a.streams.dial(b.addr, 9);
    c.setNoDelay(true);
    const errored = new Promise<NodeJS.ErrnoException | null>((resolve) => {
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e));
      c.on('close', () => resolve(null));
    });
    await once(c, 'data');
    c.write('go');
    const s = await serverSide;
    expect(s.destroyed).toBe(true);
    const err = await errored;
    expect(err?.code).toBe('ERR_CONNECTION_RESET');
    expect(b.streams.connections().filter((x) => x.localPort === 9 && !x.released)).toHaveLength(0);
  });
});
