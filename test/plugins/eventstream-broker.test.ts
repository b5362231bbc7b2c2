import { describe, expect, it } from 'vitest';
import type { TrustChecker } from '../../src/coreapi/trust.js';
import type { EventStreamClient } from '../../src/plugins/index.js';
import {
  encodeEvent,
  EventStreamService,
  publish,
  subscribe,
  type StreamEvent,
} from '../../src/plugins/index.js';
import { collectEvents, nodeAddr, testNet, waitFor, type TestNet } from './helpers.js';

const BROKER = 2;

async function setup(config: Record<string, unknown> = {}, trust?: TrustChecker) {
  const t = testNet();
  const broker = new EventStreamService(config);
  await t.start(broker, BROKER, trust ? { trust } : {});
  for (const n of [1, 3, 4, 5]) t.node(n);
  return { t, broker };
}

async function connect(t: TestNet, node: number, topic: string): Promise<EventStreamClient> {
  const c = await subscribe(t.node(node), nodeAddr(BROKER), topic);
  return c;
}

/** Collect events a client receives into an array. */
function inbox(client: EventStreamClient): { events: StreamEvent[]; done: Promise<unknown> } {
  const events: StreamEvent[] = [];
  const done = (async () => {
    for await (const ev of client) events.push(ev);
  })().catch((err: unknown) => err);
  return { events, done };
}

const texts = (events: StreamEvent[]): string[] => events.map((e) => `${e.topic}=${e.payload.toString()}`);

describe('event stream broker (port 1002)', () => {
  it('delivers a publish to subscribers of the topic and of *, never to the sender', async () => {
    const { t, broker } = await setup();
    const chat = inbox(await connect(t, 3, 'chat'));
    const chat2 = inbox(await connect(t, 4, 'chat'));
    const all = inbox(await connect(t, 5, '*'));
    const other = inbox(await connect(t, 5, 'other'));
    const pub = await connect(t, 1, 'chat');
    const own = inbox(pub);
    await waitFor(() => broker.stats.subscribers === 5);
    expect(broker.topics()).toEqual({ chat: 3, '*': 1, other: 1 });

    await pub.publish('chat', 'hello');
    await pub.publish('news', 'extra');
    await waitFor(() => all.events.length === 2);
    await waitFor(() => chat.events.length === 1 && chat2.events.length === 1);
    expect(texts(chat.events)).toEqual(['chat=hello']);
    expect(texts(chat2.events)).toEqual(['chat=hello']);
    expect(texts(all.events)).toEqual(['chat=hello', 'news=extra']);

    // The sender does not get its own event, but does get other publishers' events on its topic.
    const pub2 = await connect(t, 3, 'x');
    await waitFor(() => broker.stats.subscribers === 6);
    await pub2.publish('chat', 'from 3');
    await waitFor(() => own.events.length === 1);
    expect(texts(own.events)).toEqual(['chat=from 3']);
    expect(other.events).toEqual([]);
  });

  it('keeps events in order', async () => {
    const { t, broker } = await setup();
    const sub = inbox(await connect(t, 3, 'seq'));
    const pub = await connect(t, 1, 'seq');
    await waitFor(() => broker.stats.subscribers === 2);
    for (let i = 0; i < 150; i++) await pub.publish('seq', String(i));
    await waitFor(() => sub.events.length === 150);
    expect(sub.events.map((e) => Number(e.payload.toString()))).toEqual(
      Array.from({ length: 150 }, (_, i) => i),
    );
  });

  it('survives a subscriber disconnecting and reports the lifecycle on the bus', async () => {
    const { t, broker } = await setup();
    const { events } = collectEvents(t.bus, 'pubsub.*');
    const gone = await connect(t, 3, 'room');
    gone.stream.on('error', () => {});
    const stays = inbox(await connect(t, 4, 'room'));
    await waitFor(() => broker.stats.subscribers === 2);
    gone.stream.destroy();
    await waitFor(() => broker.stats.subscribers === 1);
    await publish(t.node(1), nodeAddr(BROKER), 'room', ['one', 'two']);
    await waitFor(() => stays.events.length === 2);
    expect(texts(stays.events)).toEqual(['room=one', 'room=two']);
    await waitFor(() => broker.stats.subscribers === 1);
    await waitFor(() => events.filter((e) => e.topic === 'pubsub.unsubscribed').length === 2);
    const topics = events.map((e) => e.topic);
    expect(topics.filter((x) => x === 'pubsub.subscribed')).toHaveLength(3);
    expect(topics.filter((x) => x === 'pubsub.published')).toHaveLength(2);
    expect(events.find((e) => e.topic === 'pubsub.published')?.payload).toMatchObject({
      topic: 'room',
      publisher: '1:0001.0000.0001',
      bytes: 3,
      delivered: 1,
    });
  });

  it('refuses untrusted subscribers, allowing trusted ones and the node itself', async () => {
    const trust: TrustChecker = { isTrusted: (node) => (node === 1 ? { name: 'alice' } : null) };
    const { t, broker } = await setup({}, trust);
    const { events } = collectEvents(t.bus, 'pubsub.refused');
    const stranger = inbox(await connect(t, 4, '*'));
    expect(await stranger.done).toMatchObject({ code: 'ERR_CONNECTION_RESET' });
    await expect(publish(t.node(5), nodeAddr(BROKER), 't', 'x')).rejects.toMatchObject({
      code: 'ERR_CONNECTION_RESET',
    });
    expect(broker.stats.refused).toBe(2);
    await waitFor(() => events.length === 2);
    expect(events[0].payload).toMatchObject({ remote: '1:0001.0000.0004', reason: 'untrusted' });

    const self = inbox(await connect(t, BROKER, 't'));
    await waitFor(() => broker.stats.subscribers === 1);
    await publish(t.node(1), nodeAddr(BROKER), 't', 'trusted');
    await waitFor(() => self.events.length === 1);
    expect(texts(self.events)).toEqual(['t=trusted']);
  });

  it('refuses everyone when requireTrust is set and no TrustChecker exists', async () => {
    const { t, broker } = await setup({ requireTrust: true });
    const c = inbox(await connect(t, 1, '*'));
    expect(await c.done).toMatchObject({ code: 'ERR_CONNECTION_RESET' });
    expect(broker.stats.refused).toBe(1);
  });

  it('rate-limits each publisher: burst 200, then dropped and counted', async () => {
    const { t, broker } = await setup();
    const sub = inbox(await connect(t, 3, 'flood'));
    const pub = await connect(t, 1, 'flood');
    await waitFor(() => broker.stats.subscribers === 2);
    // 300 events in one write arrive together: the bucket allows the burst only.
    pub.stream.write(
      Buffer.concat(Array.from({ length: 300 }, (_, i) => encodeEvent('flood', Buffer.from(`${i}`)))),
    );
    await waitFor(() => broker.stats.published + broker.stats.rateLimited === 300);
    expect(broker.stats.published).toBeGreaterThanOrEqual(200);
    expect(broker.stats.published).toBeLessThan(210);
    await waitFor(() => sub.events.length === broker.stats.published);
    expect(sub.events[199].payload.toString()).toBe('199');

    // Another publisher has its own bucket.
    await publish(t.node(4), nodeAddr(BROKER), 'flood', 'other');
    await waitFor(() => sub.events.some((e) => e.payload.toString() === 'other'));
  });

  it('applies a configured rate', async () => {
    const { t, broker } = await setup({ publishRate: 5, publishBurst: 10 });
    const sub = inbox(await connect(t, 3, 'r'));
    const pub = await connect(t, 1, 'r');
    await waitFor(() => broker.stats.subscribers === 2);
    pub.stream.write(Buffer.concat(Array.from({ length: 40 }, () => encodeEvent('r', Buffer.from('x')))));
    await waitFor(() => broker.stats.published + broker.stats.rateLimited === 40);
    expect(broker.stats.rateLimited).toBeGreaterThanOrEqual(29);
    await waitFor(() => sub.events.length === broker.stats.published);
  });

  it('drops events for a slow subscriber without holding back the others, then disconnects it', async () => {
    const { t, broker } = await setup({ subscriberBufferBytes: 8 * 1024, slowSubscriberMaxDrops: 50 });
    const slow = await connect(t, 3, 'bulk');
    slow.stream.on('error', () => {});
    slow.stream.pause(); // never reads
    const fast = inbox(await connect(t, 4, 'bulk'));
    const pub = await connect(t, 1, 'bulk');
    await waitFor(() => broker.stats.subscribers === 3);
    const payload = Buffer.alloc(1024, 1);
    // Paced publishing (one event per turn of the event loop) so the fast reader keeps up.
    for (let i = 0; i < 150; i++) {
      await pub.publish('bulk', payload);
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => fast.events.length === 150);
    expect(broker.stats.slowDrops).toBeGreaterThanOrEqual(50);
    expect(broker.stats.slowDisconnects).toBe(1);
    await waitFor(() => broker.stats.subscribers === 2);
    await waitFor(() => slow.closed);
  });

  it('resets every connection on stop', async () => {
    const { t, broker } = await setup();
    const sub = inbox(await connect(t, 3, 'a'));
    await waitFor(() => broker.stats.subscribers === 1);
    await broker.stop(AbortSignal.timeout(5000));
    expect(await sub.done).toMatchObject({ code: 'ERR_CONNECTION_RESET' });
    expect((await broker.health()).status).toBe('failed');
  });

  it('handles the events that arrive in the same chunk as a bad one before closing the connection', async () => {
    const { t, broker } = await setup();
    const sub = inbox(await connect(t, 3, 'news'));
    await waitFor(() => broker.stats.subscribers === 1);
    const bad = await t.node(1).dial(nodeAddr(BROKER), 1002);
    bad.on('error', () => {});
    const closed = new Promise((r) => bad.once('close', r));
    bad.resume();
    // Subscribe, publish, then a topic length over the limit, all in one write.
    bad.write(
      Buffer.concat([encodeEvent('x'), encodeEvent('news', Buffer.from('first')), Buffer.from([0xff, 0xff])]),
    );
    await closed;
    await waitFor(() => sub.events.length === 1);
    expect(texts(sub.events)).toEqual(['news=first']);
  });

  it('closes a connection that sends an oversized topic, and keeps serving', async () => {
    const { t, broker } = await setup();
    const bad = await t.node(1).dial(nodeAddr(BROKER), 1002);
    bad.on('error', () => {});
    const closed = new Promise((r) => bad.once('close', r));
    bad.resume();
    bad.write(Buffer.from([0xff, 0xff]));
    await closed;
    const sub = inbox(await connect(t, 3, 'ok'));
    await waitFor(() => broker.stats.subscribers === 1);
    await publish(t.node(4), nodeAddr(BROKER), 'ok', 'fine');
    await waitFor(() => sub.events.length === 1);
  });
});
