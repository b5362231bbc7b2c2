/**
 * The per-IP reply budget bounds what the beacon sends to an address; it must not stop a node that is
 * already in the table from keeping its entry alive. Otherwise anyone sharing the node's public IP (a NAT or
 * CGNAT neighbour), or anyone spoofing it, drains the budget with bare Discovers and the node's own Discovers
 * stop refreshing its entry: it expires and relays to and from the node are dropped.
 *
 * Only `Date` is faked (to step past the node TTL deterministically); sockets and timers are real.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BeaconMsgType, encodeDiscover, encodePunchRequest } from '../../src/beacon/index.js';
import { beacon, udpWithInbox } from './util.js';

/** Resolve once `pred` holds (checked on every turn of the event loop), reject after `ms` of real time. */
function until(pred: () => boolean, ms = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      clearInterval(poll);
      reject(new Error('condition not met in time'));
    }, ms);
    const poll = setInterval(() => {
      if (!pred()) return;
      clearInterval(poll);
      clearTimeout(deadline);
      resolve();
    }, 2);
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('beacon: reply rate limit does not evict known nodes', () => {
  it('a rate-limited Discover or PunchRequest from the recorded endpoint still refreshes the entry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.now();
    const b = await beacon({ replyRate: { perSecond: 1, burst: 1 }, nodeTtlMs: 60_000 });
    const port = b.address().port;
    const node = await udpWithInbox();
    const neighbour = await udpWithInbox(); // same public IP (127.0.0.1), another port

    // The node registers (uses the one token of 127.0.0.1).
    node.sock.send(encodeDiscover(7), port, '127.0.0.1');
    await node.inbox.nextType(BeaconMsgType.DiscoverReply);
    expect(b.lookupNode(7)).toEqual({ host: '127.0.0.1', port: node.port });

    // 50 s later the bucket has refilled; the neighbour spends it on a bare STUN query.
    vi.setSystemTime(t0 + 50_000);
    neighbour.sock.send(encodeDiscover(0), port, '127.0.0.1');
    await neighbour.inbox.nextType(BeaconMsgType.DiscoverReply);

    // The node's keep-alive Discover now finds the IP's reply budget empty.
    const limited = b.stats().dropped.rate_limited;
    node.sock.send(encodeDiscover(7), port, '127.0.0.1');
    await until(() => b.stats().dropped.rate_limited === limited + 1);

    // Past the first registration's TTL (60 s) but within a refresh at 50 s: the node must still be known.
    vi.setSystemTime(t0 + 100_000);
    expect(b.lookupNode(7)).toEqual({ host: '127.0.0.1', port: node.port });

    // Same for a PunchRequest (which also records its requester), at 100 s: keeps it past 110 s.
    neighbour.sock.send(encodeDiscover(0), port, '127.0.0.1');
    await neighbour.inbox.nextType(BeaconMsgType.DiscoverReply);
    node.sock.send(encodePunchRequest(7, 99), port, '127.0.0.1');
    await until(() => b.stats().dropped.rate_limited === limited + 2);
    vi.setSystemTime(t0 + 150_000);
    expect(b.lookupNode(7)).toEqual({ host: '127.0.0.1', port: node.port });

    // A rate-limited Discover must not create entries or move them (that still needs the reply budget).
    neighbour.sock.send(encodeDiscover(0), port, '127.0.0.1');
    await neighbour.inbox.nextType(BeaconMsgType.DiscoverReply);
    neighbour.sock.send(encodeDiscover(7), port, '127.0.0.1');
    neighbour.sock.send(encodeDiscover(8), port, '127.0.0.1');
    await until(() => b.stats().dropped.rate_limited === limited + 4);
    expect(b.lookupNode(7)).toEqual({ host: '127.0.0.1', port: node.port });
    expect(b.lookupNode(8)).toBeNull();
  });
});
