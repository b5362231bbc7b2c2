import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel-helpers.js';

describe('encrypted tunnel on loopback', () => {
  it('exchanges encrypted packets both ways after an authenticated key exchange', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    introduce(a, b);
    for (let i = 0; i < 10; i++) a.tunnel.send(datagram(1, 2, `a->b ${i}`, i));
    for (let i = 0; i < 10; i++) b.tunnel.send(datagram(2, 1, `b->a ${i}`, i));
    await waitFor(() => a.received.length === 10 && b.received.length === 10, 5000, 'delivery');
    expect(b.received.map((p) => p.payload.toString())).toEqual([...Array(10)].map((_, i) => `a->b ${i}`));
    expect(a.received.map((p) => p.payload.toString())).toEqual([...Array(10)].map((_, i) => `b->a ${i}`));
    const pa = a.tunnel.peer(2);
    expect(pa?.encrypted).toBe(true);
    expect(pa?.authenticated).toBe(true);
    expect(a.tunnel.counters().drops.plaintext_refused).toBe(0);
    expect(a.tunnel.counters().dropped).toBe(0);
    expect(b.tunnel.counters().dropped).toBe(0);
  });

  it('works with the v1 compatibility suite', async () => {
    const a = await makeNode(1, { crypto: 'v1' });
    const b = await makeNode(2, { crypto: 'v1' });
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'hello v1'));
    await waitFor(() => b.received.length === 1);
    expect(b.received[0].payload.toString()).toBe('hello v1');
  });

  it('a v1 peer and a v2 peer cannot read each other', async () => {
    const a = await makeNode(1, { crypto: 'v1' });
    const b = await makeNode(2, { crypto: 'v2' });
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'x'));
    await waitFor(() => b.tunnel.counters().drops.bad_tag > 0, 5000, 'bad tag');
    expect(b.received.length).toBe(0);
  });
});

describe('IPv6', () => {
  it('exchanges encrypted packets over ::1, and a dual-stack node talks to an IPv4 node', async (ctx) => {
    let a;
    try {
      a = await makeNode(1, { host: '::1' });
    } catch (err) {
      console.log(`skipping IPv6 test: cannot bind ::1 (${(err as Error).message})`);
      ctx.skip();
      return;
    }
    const b = await makeNode(2, { host: '::1' });
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'over v6'));
    await waitFor(() => b.received.length === 1);
    expect(b.received[0].payload.toString()).toBe('over v6');

    const dual = await makeNode(3, { host: '::' });
    const v4 = await makeNode(4, { host: '127.0.0.1' });
    dual.dir.set(4, { publicKey: v4.identity.publicKey, endpoint: v4.tunnel.address });
    v4.dir.set(3, {
      publicKey: dual.identity.publicKey,
      endpoint: { host: '127.0.0.1', port: dual.tunnel.address.port },
    });
    dual.tunnel.send(datagram(3, 4, 'dual to v4'));
    await waitFor(() => v4.received.length === 1);
    v4.tunnel.send(datagram(4, 3, 'v4 to dual'));
    await waitFor(() => dual.received.length === 1);
    expect(dual.received[0].payload.toString()).toBe('v4 to dual');
    expect(dual.tunnel.peer(4)?.endpoint).toBe(`127.0.0.1:${v4.tunnel.address.port}`);
  });
});
