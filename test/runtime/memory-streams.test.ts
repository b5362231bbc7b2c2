import { describe, expect, it } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { createMemoryNetwork, MEMORY_MAX_DATAGRAM } from '../../src/runtime/memory-streams.js';
import { expectCode, runStreamsSuite } from '../compliance/streams-suite.js';

runStreamsSuite('memory', async () => {
  const net = createMemoryNetwork();
  const addrA = makeAddr(1, 0x0a);
  const addrB = makeAddr(1, 0x0b);
  return { a: net.node(addrA), b: net.node(addrB), addrA, addrB, close: () => net.close() };
});

describe('memory network specifics', () => {
  it('times out a dial to an address with no node, and aborts it', async () => {
    const net = createMemoryNetwork();
    const a = net.node(makeAddr(1, 1));
    await expectCode(a.dial(makeAddr(1, 99), 80, { timeoutMs: 5 }), 'ERR_DIAL_TIMEOUT');
    const ac = new AbortController();
    const p = a.dial(makeAddr(1, 99), 80, { signal: ac.signal });
    ac.abort();
    await expectCode(p, 'ERR_ABORTED');
    await net.close();
  });

  it('closing a node resets its streams and frees its listeners', async () => {
    const net = createMemoryNetwork();
    const a = net.node(makeAddr(1, 1));
    const b = net.node(makeAddr(1, 2));
    const l = await b.listen(80);
    const [c, s] = await Promise.all([a.dial(b.addr, 80), l.accept()]);
    const err = new Promise<unknown>((r) => c.on('error', r));
    expect(a.streamCount).toBe(1);
    s.on('error', () => {});
    await b.close();
    expect(await err).toMatchObject({ code: 'ERR_CONNECTION_RESET' });
    await expectCode(a.dial(b.addr, 80, { timeoutMs: 5 }), 'ERR_DIAL_TIMEOUT');
    await expectCode(b.listen(81), 'ERR_CLOSED');
    expect(MEMORY_MAX_DATAGRAM).toBeGreaterThan(60_000);
    await net.close();
  });
});
