/**
 * Audit 5: the reply budget of an IP refills with wall-clock time. When the clock stepped back (NTP correction,
 * VM resume), the negative elapsed time drained the bucket far below zero: every IP that had a bucket got no
 * DiscoverReply / PunchCommand for as long as the step (an hour back = an hour of silence).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BeaconMsgType, encodeDiscover } from '../../src/beacon/index.js';
import { ReplyRateLimiter } from '../../src/beacon/rate-limiter.js';
import { beacon, udpWithInbox, waitFor } from './util.js';

const HOUR = 3_600_000;

afterEach(() => {
  vi.useRealTimers();
});

describe('audit5: reply rate limit and a clock that steps back', () => {
  it('a bucket keeps its tokens across a backward step and refills normally afterwards', () => {
    const l = new ReplyRateLimiter(10, 2, 16);
    const t0 = 10 * HOUR;
    expect(l.take('10.0.0.1', t0)).toBe(true);
    expect(l.take('10.0.0.1', t0)).toBe(true);
    expect(l.take('10.0.0.1', t0)).toBe(false);
    expect(l.take('10.0.0.2', t0)).toBe(true);
    // The clock goes back an hour: no refill, but no debt either.
    expect(l.take('10.0.0.1', t0 - HOUR)).toBe(false);
    expect(l.take('10.0.0.2', t0 - HOUR)).toBe(true);
    // 100 ms later (at 10/s) one token is back.
    expect(l.take('10.0.0.1', t0 - HOUR + 100)).toBe(true);
    expect(l.take('10.0.0.1', t0 - HOUR + 100)).toBe(false);
  });

  it('the beacon answers Discover again shortly after the system clock stepped back', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.UTC(2030, 0, 1);
    vi.setSystemTime(t0);
    const b = await beacon({ replyRate: { perSecond: 10, burst: 1 } });
    const c = await udpWithInbox();
    const port = b.address().port;
    c.sock.send(encodeDiscover(5), port, '127.0.0.1');
    await c.inbox.nextType(BeaconMsgType.DiscoverReply);
    vi.setSystemTime(t0 - HOUR);
    c.sock.send(encodeDiscover(5), port, '127.0.0.1');
    await waitFor(() => b.stats().dropped.rate_limited === 1, 2000, 'the rate-limited Discover');
    vi.setSystemTime(t0 - HOUR + 200); // two tokens' worth of time at 10/s (the burst is 1)
    c.sock.send(encodeDiscover(5), port, '127.0.0.1');
    const r = await c.inbox.nextType(BeaconMsgType.DiscoverReply, 2000);
    expect(r.msg.length).toBe(8);
    expect(b.stats().sent.discover_reply).toBe(2);
  });
});
