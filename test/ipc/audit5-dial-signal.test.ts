/**
 * A long-lived extension client dials many times. Each DialEx used to get `AbortSignal.any([dial, session])`:
 * on Node 20 every such signal stays registered (a WeakRef) on the session's signal until the client
 * disconnects, so the daemon's memory grew with every dial a client ever made. The signal a dial gets must
 * not pile up on anything that outlives the dial; the client's disconnect must still abort its dials.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeAddr, type Addr } from '../../src/coreapi/addr.js';
import type { DialOptions, Stream, Streams } from '../../src/coreapi/streams.js';
import { connect } from '../../src/ipc/connect.js';
import { createIpcServer } from '../../src/ipc/server.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { FakeControl, tempSocketPath } from './helpers.js';

const NODE = makeAddr(1, 0x0a);
const PEER = makeAddr(1, 0x0b);

/** The largest set of dependent signals registered on `signal` or on any signal it follows (Node internals). */
function dependants(signal: AbortSignal): number {
  let max = 0;
  const seen = new Set<AbortSignal>();
  const visit = (s: AbortSignal): void => {
    if (seen.has(s)) return;
    seen.add(s);
    for (const sym of Object.getOwnPropertySymbols(s)) {
      const v = (s as unknown as Record<symbol, unknown>)[sym] as { size?: unknown } | null;
      // Node keeps these in its own Set subclass (not `instanceof Set`).
      if (typeof v?.size !== 'number' || !(Symbol.iterator in v)) continue;
      if (sym.description === 'kDependantSignals') max = Math.max(max, v.size);
      if (sym.description === 'kSourceSignals') {
        for (const ref of v as Iterable<WeakRef<AbortSignal>>) {
          const src = ref.deref();
          if (src) visit(src);
        }
      }
    }
  };
  visit(signal);
  return max;
}

describe('DialEx abort signals', () => {
  it('do not accumulate on the client session over many dials', async () => {
    const net = createMemoryNetwork();
    const node = net.node(NODE);
    net.node(PEER);
    const signals: AbortSignal[] = [];
    const streams: Streams = Object.create(node) as Streams;
    streams.dial = (addr: Addr, port: number, options?: DialOptions): Promise<Stream> => {
      if (options?.signal) signals.push(options.signal);
      return node.dial(addr, port, options);
    };
    const server = await createIpcServer({
      socketPath: tempSocketPath(),
      streams,
      control: new FakeControl(NODE),
    });
    onTestFinished(async () => {
      await server.close();
      await net.close();
    });
    const driver = await connect(server.socketPath);
    onTestFinished(() => driver.close());
    expect(driver.extended).toBe(true);

    const DIALS = 200;
    for (let i = 0; i < DIALS; i++) {
      await expect(driver.dial(PEER, 999)).rejects.toMatchObject({ code: 'ERR_CONNECTION_REFUSED' });
    }
    expect(signals).toHaveLength(DIALS);
    expect(dependants(signals[DIALS - 1])).toBeLessThan(10);
    // The probe sees dependants where there are some.
    expect(dependants(AbortSignal.any([signals[0], new AbortController().signal]))).toBeGreaterThan(0);
  });

  it('a pending DialEx is still aborted when its client disconnects', async () => {
    const net = createMemoryNetwork();
    const node = net.node(NODE);
    let seen!: (s: AbortSignal | undefined) => void;
    const dialled = new Promise<AbortSignal | undefined>((resolve) => (seen = resolve));
    const streams: Streams = Object.create(node) as Streams;
    streams.dial = (_addr: Addr, _port: number, options?: DialOptions): Promise<Stream> => {
      seen(options?.signal);
      return new Promise<Stream>(() => {}); // never completes by itself
    };
    const server = await createIpcServer({
      socketPath: tempSocketPath(),
      streams,
      control: new FakeControl(NODE),
    });
    onTestFinished(async () => {
      await server.close();
      await net.close();
    });
    const driver = await connect(server.socketPath);
    driver.dial(PEER, 7).catch(() => {});
    const signal = await dialled;
    expect(signal?.aborted).toBe(false);
    const aborted = new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve()));
    await driver.close();
    await aborted;
    expect(signal?.aborted).toBe(true);
  });
});
