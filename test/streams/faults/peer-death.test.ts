/**
 * Fault-injection scenarios where the peer disappears (issue 3): node B's tunnel closes abruptly (no FIN, no
 * RST) and node A's streams must error with a code within the configured retransmission / idle limits, never
 * hang. A live but idle connection must survive the idle timeout thanks to keepalives.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../../src/coreapi/streams.js';
import type { StreamStackOptions } from '../../../src/streams/stack.js';
import { waitFor } from '../../helpers/wait.js';
import {
  closeError,
  expectCleanedUp,
  faultPair,
  liveConns,
  note,
  randomData,
  within,
} from './fault-helpers.js';

const MiB = 1024 * 1024;

/** Small limits: an unanswered segment gives up after ~4 RTOs of at most 200 ms. */
const QUICK_DEATH: Partial<StreamStackOptions> = {
  initialRtoMs: 100,
  minRtoMs: 50,
  maxRtoMs: 200,
  maxRetransmits: 4,
  keepaliveMs: 200,
  idleTimeoutMs: 1000,
};

const DEATH_CODES = ['ERR_RETRANSMIT_LIMIT', 'ERR_IDLE_TIMEOUT'];

describe('faults: peer death', () => {
  it('abrupt kill while A sends: A errors by retransmit limit or idle timeout, no hang', async () => {
    const p = await faultPair({ streams: QUICK_DEATH });
    const l = await p.b.streams.listen(1000);
    const accepted = l.accept();
    const c = await p.a.streams.dial(p.b.addr, 1000);
    const err = closeError(c);
    const s: Stream = await accepted;
    let received = 0;
    s.on('data', (d: Buffer) => {
      received += d.length;
    });
    s.on('error', () => {});
    const data = randomData(8 * MiB, 51);
    c.write(data);
    await within(
      new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (received >= MiB) {
            clearInterval(t);
            resolve();
          }
        }, 2);
      }),
      10_000,
      'first MiB',
    );
    const killedAt = performance.now();
    await p.b.tunnel.close();
    const e = await within(err, 5000, "A's stream error after the peer died");
    const ms = performance.now() - killedAt;
    note(
      `abrupt kill (sending): ${e?.code} after ${ms.toFixed(0)} ms, received ${received} of ${data.length}`,
    );
    expect(received).toBeLessThan(data.length);
    expect(DEATH_CODES).toContain(e?.code);
    expect(liveConns(p.a)).toEqual([]);
  });

  it('abrupt kill while A only receives: A errors by idle timeout, no hang', async () => {
    const p = await faultPair({ streams: QUICK_DEATH });
    const l = await p.b.streams.listen(1000);
    void l.accept().then(
      (s) => {
        s.on('error', () => {});
        s.write(randomData(8 * MiB, 52));
      },
      () => {},
    );
    const c = await p.a.streams.dial(p.b.addr, 1000);
    const err = closeError(c);
    let received = 0;
    await within(
      new Promise<void>((resolve) => {
        c.on('data', (d: Buffer) => {
          received += d.length;
          if (received >= MiB) resolve();
        });
      }),
      10_000,
      'first MiB',
    );
    const killedAt = performance.now();
    await p.b.tunnel.close();
    const e = await within(err, 5000, "A's stream error after the peer died");
    const ms = performance.now() - killedAt;
    note(`abrupt kill (receiving): ${e?.code} after ${ms.toFixed(0)} ms`);
    expect(DEATH_CODES).toContain(e?.code);
    expect(liveConns(p.a)).toEqual([]);
  });

  it('idle stream whose peer disappears errors by idle timeout', async () => {
    const p = await faultPair({ streams: QUICK_DEATH });
    const l = await p.b.streams.listen(1000);
    const accepted = l.accept();
    const c = await p.a.streams.dial(p.b.addr, 1000);
    const s = await accepted;
    s.on('error', () => {});
    c.write('hello');
    await within(new Promise((r) => s.once('data', r)), 5000, 'first bytes');
    // Idle means nothing unacknowledged either (else the retransmit limit fires first).
    await waitFor(() => c.stats().inFlight === 0, 5000, 'hello acknowledged');
    const err = closeError(c);
    const killedAt = performance.now();
    await p.b.tunnel.close();
    const e = await within(err, 5000, 'idle timeout');
    const ms = performance.now() - killedAt;
    note(`idle peer death: ${e?.code} after ${ms.toFixed(0)} ms`);
    expect(e?.code).toBe('ERR_IDLE_TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(QUICK_DEATH.idleTimeoutMs! * 0.8);
    expect(liveConns(p.a)).toEqual([]);
  });

  it('an idle stream with a live peer outlives the idle timeout (keepalives answered)', async () => {
    const p = await faultPair({ streams: QUICK_DEATH });
    const l = await p.b.streams.listen(1000);
    const accepted = l.accept();
    const c = await p.a.streams.dial(p.b.addr, 1000);
    const s = await accepted;
    let closed = false;
    for (const x of [c, s]) {
      x.on('error', () => {});
      x.on('close', () => {
        closed = true;
      });
    }
    c.write('ping');
    await within(new Promise((r) => s.once('data', r)), 5000, 'first bytes');
    // Three idle timeouts with no application traffic.
    await new Promise((r) => setTimeout(r, 3 * QUICK_DEATH.idleTimeoutMs!));
    expect(closed).toBe(false);
    const echoed = new Promise<Buffer>((r) => c.once('data', r));
    s.write('still here');
    expect((await within(echoed, 5000, 'data after idle')).toString()).toBe('still here');
    c.end();
    s.end();
    await expectCleanedUp(p);
  });
});
