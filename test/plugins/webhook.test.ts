import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebhookClient, WebhookService, rfc3339, type WebhookPayload } from '../../src/plugins/index.js';
import { testNet, waitFor } from './helpers.js';

interface Hook {
  url: string;
  bodies: WebhookPayload[];
  /** Answer with this status (default 200). */
  status: number;
  /** When set, requests wait until release() is called. */
  hold: boolean;
  release(): void;
}

async function hookServer(): Promise<Hook> {
  const held: (() => void)[] = [];
  const hook: Hook = {
    url: '',
    bodies: [],
    status: 200,
    hold: false,
    release: () => {
      hook.hold = false;
      for (const h of held.splice(0)) h();
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (): void => {
        hook.bodies.push(JSON.parse(Buffer.concat(chunks).toString()) as WebhookPayload);
        res.writeHead(hook.status).end();
      };
      if (hook.hold) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return hook;
}

/** A URL whose port nobody listens on. */
async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/`;
}

function payload(i: number): WebhookPayload {
  return { event: 'test.event', node_id: 7, timestamp: rfc3339(new Date(0)), data: { i } };
}

function client(options: ConstructorParameters<typeof WebhookClient>[0]): WebhookClient {
  const c = new WebhookClient(options);
  onTestFinished(() => c.close({ drainMs: 100 }));
  return c;
}

describe('webhook client', () => {
  it('posts JSON events in order', async () => {
    const hook = await hookServer();
    const c = client({ url: hook.url });
    for (let i = 0; i < 20; i++) expect(c.emit(payload(i))).toBe(true);
    await c.idle();
    expect(hook.bodies.map((b) => b.data.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(hook.bodies[0]).toEqual({
      event: 'test.event',
      node_id: 7,
      timestamp: '1970-01-01T00:00:00Z',
      data: { i: 0 },
    });
    expect(c.stats()).toEqual({ sent: 20, failed: 0, dropped: 0, queued: 0 });
  });

  it('drops events when the queue is full, and counts them', async () => {
    const hook = await hookServer();
    hook.hold = true;
    const c = client({ url: hook.url, queueSize: 3 });
    c.emit(payload(0));
    // The first POST is in flight once the server holds it.
    await waitFor(() => c.stats().queued === 0);
    const accepted = Array.from({ length: 10 }, (_, i) => c.emit(payload(i + 1))).filter(Boolean).length;
    expect(accepted).toBe(3);
    expect(c.stats().dropped).toBe(7);
    hook.release();
    await c.idle();
    expect(hook.bodies.map((b) => b.data.i)).toEqual([0, 1, 2, 3]);
    expect(c.stats().sent).toBe(4);
  });

  it('never blocks on an unreachable URL; failures are counted', async () => {
    const c = client({ url: await deadUrl() });
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) c.emit(payload(i));
    expect(performance.now() - t0).toBeLessThan(200);
    await c.idle();
    expect(c.stats()).toMatchObject({ sent: 0, failed: 50 });
  });

  it('counts non-2xx answers and time-outs as failures', async () => {
    const hook = await hookServer();
    hook.status = 500;
    const c = client({ url: hook.url, timeoutMs: 100 });
    c.emit(payload(1));
    await c.idle();
    expect(c.stats().failed).toBe(1);
    hook.status = 200;
    hook.hold = true;
    c.emit(payload(2));
    await c.idle();
    expect(c.stats()).toMatchObject({ failed: 2, sent: 0 });
    hook.release();
  });

  it('hot-swaps the URL and ignores events without one', async () => {
    const a = await hookServer();
    const b = await hookServer();
    const c = client({ url: a.url });
    c.emit(payload(1));
    await c.idle();
    c.setUrl(b.url);
    expect(c.url).toBe(b.url);
    c.emit(payload(2));
    await c.idle();
    expect(a.bodies.map((x) => x.data.i)).toEqual([1]);
    expect(b.bodies.map((x) => x.data.i)).toEqual([2]);
    c.setUrl('');
    expect(c.url).toBeNull();
    expect(c.emit(payload(3))).toBe(false);
    expect(() => c.setUrl('file:///etc/passwd')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG' }),
    );
    expect(() => c.setUrl('not a url')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('closes twice safely and ignores emits after close', async () => {
    const hook = await hookServer();
    const c = new WebhookClient({ url: hook.url });
    c.emit(payload(1));
    await c.close();
    await c.close();
    expect(c.emit(payload(2))).toBe(false);
    expect(hook.bodies).toHaveLength(1);
  });

  it('drops what it cannot send within the drain time on close', async () => {
    const hook = await hookServer();
    hook.hold = true;
    const c = new WebhookClient({ url: hook.url });
    for (let i = 0; i < 5; i++) c.emit(payload(i));
    const t0 = performance.now();
    await c.close({ drainMs: 50 });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(c.stats()).toMatchObject({ sent: 0, dropped: 4, failed: 1 });
  });

  it('does not wait for the drain time when close() gets an already-aborted signal', async () => {
    const hook = await hookServer();
    hook.hold = true; // a hung endpoint
    const c = new WebhookClient({ url: hook.url, timeoutMs: 10_000 });
    c.emit(payload(1));
    c.emit(payload(2));
    const t0 = performance.now();
    await c.close({ signal: AbortSignal.abort(), drainMs: 5_000 });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(c.stats().sent).toBe(0);
  });

  it('removes its abort listener from the signal given to close()', async () => {
    const hook = await hookServer();
    const c = new WebhookClient({ url: hook.url });
    c.emit(payload(1));
    const ac = new AbortController();
    await c.close({ signal: ac.signal, drainMs: 5_000 });
    expect(hook.bodies).toHaveLength(1);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe('webhook service', () => {
  it('POSTs bus events with the reference payload shape', async () => {
    const hook = await hookServer();
    const t = testNet();
    const svc = new WebhookService({ url: hook.url });
    await t.start(svc, 1);
    t.bus.publish('conn.established', { peer: 'x', port: 7 });
    t.bus.publish('message.received', { type: 'TEXT', bytes: 3 });
    await waitFor(() => hook.bodies.length === 2);
    expect(hook.bodies[0]).toMatchObject({
      event: 'conn.established',
      node_id: 1,
      data: { peer: 'x', port: 7 },
    });
    expect(hook.bodies[0].timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(hook.bodies[1].event).toBe('message.received');
    await waitFor(() => svc.stats().sent === 2); // counted once the answer arrives
    expect(svc.stats()).toMatchObject({ sent: 2, dropped: 0, failed: 0 });
    expect((await svc.health()).status).toBe('ok');
  });

  it('starts without a URL and picks one up later', async () => {
    const hook = await hookServer();
    const t = testNet();
    const svc = new WebhookService();
    await t.start(svc, 1);
    t.bus.publish('ignored.event', {});
    await new Promise((r) => setImmediate(r)); // the pump has taken it, with no URL yet
    svc.setUrl(hook.url);
    expect(svc.url).toBe(hook.url);
    t.bus.publish('node.registered', { node_id: 1 });
    await waitFor(() => hook.bodies.length === 1);
    expect(hook.bodies[0].event).toBe('node.registered');
    await svc.stop(AbortSignal.timeout(5000));
    await svc.stop(AbortSignal.timeout(5000));
  });

  it('stops within its budget even when the endpoint hangs', async () => {
    const hook = await hookServer();
    hook.hold = true;
    const t = testNet();
    const svc = new WebhookService({ url: hook.url, drainMs: 100 });
    await t.start(svc, 1);
    for (let i = 0; i < 10; i++) t.bus.publish('x.y', { i });
    await waitFor(() => svc.stats().queued + svc.stats().sent + svc.stats().failed >= 9);
    const t0 = performance.now();
    await svc.stop(AbortSignal.timeout(5000));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(svc.stats().dropped).toBe(9);
  });
});
