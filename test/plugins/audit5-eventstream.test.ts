/**
 * Audit 5, event stream broker (port 1002): one failing trust check must not take the accept loop down.
 */
import { describe, expect, it } from 'vitest';
import type { TrustChecker } from '../../src/coreapi/trust.js';
import {
  EventStreamService,
  publish,
  subscribe,
  type EventStreamClient,
  type StreamEvent,
} from '../../src/plugins/index.js';
import { collectEvents, nodeAddr, testNet, waitFor } from './helpers.js';

const BROKER = 2;

function inbox(client: EventStreamClient): { events: StreamEvent[]; done: Promise<unknown> } {
  const events: StreamEvent[] = [];
  const done = (async () => {
    for await (const ev of client) events.push(ev);
  })().catch((err: unknown) => err);
  return { events, done };
}

describe('audit5 eventstream: trust checker failures', () => {
  it('refuses a peer whose trust check throws and keeps accepting everyone else', async () => {
    const trust: TrustChecker = {
      isTrusted: (node) => {
        if (node === 4) throw new Error('trust store unreadable');
        return { name: `node-${node}` };
      },
    };
    const t = testNet();
    const broker = new EventStreamService();
    await t.start(broker, BROKER, { trust });
    const { events: refusals } = collectEvents(t.bus, 'pubsub.refused');

    const stranger = inbox(await subscribe(t.node(4), nodeAddr(BROKER), '*'));
    expect(await stranger.done).toMatchObject({ code: 'ERR_CONNECTION_RESET' });
    expect(broker.stats.refused).toBe(1);
    await waitFor(() => refusals.length === 1, 5_000, 'the refusal event');
    expect(refusals[0].payload).toMatchObject({ remote: '1:0001.0000.0004', reason: 'trust check failed' });

    // The broker still serves trusted peers.
    const sub = inbox(await subscribe(t.node(3), nodeAddr(BROKER), 'news'));
    await waitFor(() => broker.stats.subscribers === 1, 5_000, 'the subscriber');
    await publish(t.node(1), nodeAddr(BROKER), 'news', 'hello');
    await waitFor(() => sub.events.length === 1, 5_000, 'the event');
    expect(sub.events[0].payload.toString()).toBe('hello');
    expect((await broker.health()).status).toBe('ok');
  }, 10_000);
});

describe('audit5 eventstream: publishBurst below one event', () => {
  it('rejects a publishBurst under 1 (it would drop every publish) with ERR_INVALID_ARG naming the key', () => {
    for (const publishBurst of [0.5, 0.999]) {
      expect(() => new EventStreamService({ publishBurst })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG', details: { key: 'publishBurst' } }),
      );
    }
    expect(new EventStreamService({ publishBurst: 1 }).options.rateLimit.burst).toBe(1);
  });
});
