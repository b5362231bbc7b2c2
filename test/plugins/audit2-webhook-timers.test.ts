/** Audit 2: webhook time limits beyond setTimeout's 2^31-1 ms range must not collapse to 1 ms. */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebhookClient, WebhookService } from '../../src/plugins/index.js';

/** A local endpoint that answers 200 a little after each request body has arrived (a slow endpoint). */
async function slowServer(delayMs: number): Promise<{ url: string; received: () => number }> {
  let received = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      setTimeout(() => res.writeHead(200).end(), delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received: () => received };
}

const payload = { event: 'test.event', node_id: 1, timestamp: '2025-01-01T00:00:00Z', data: {} };
const HUGE = 2 ** 31; // ~24.8 days: "effectively no limit"

describe('webhook audit2: very long time limits', () => {
  it('timeoutMs above 2^31-1 ms does not fail every POST after 1 ms', async () => {
    const srv = await slowServer(100);
    const client = new WebhookClient({ url: srv.url, timeoutMs: HUGE });
    onTestFinished(() => client.close({ drainMs: 1 }));
    expect(client.emit(payload)).toBe(true);
    await client.idle();
    expect(client.stats()).toMatchObject({ sent: 1, failed: 0 });
  });

  it('drainMs above 2^31-1 ms lets the POST in flight finish on close()', async () => {
    const srv = await slowServer(100);
    const client = new WebhookClient({ url: srv.url });
    expect(client.emit(payload)).toBe(true);
    await client.close({ drainMs: HUGE });
    expect(srv.received()).toBe(1);
    expect(client.stats()).toMatchObject({ sent: 1, failed: 0, dropped: 0 });
  });

  it('the service config accepts such values', () => {
    expect(() => new WebhookService({ timeoutMs: HUGE, drainMs: HUGE })).not.toThrow();
  });
});
