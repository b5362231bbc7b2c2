/**
 * Audit 5, webhook: stop() must finish inside the contract's 5 s stop budget whatever `drainMs` says, and the
 * URL's credentials must not reach the logs or the health message.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Logger } from '../../src/coreapi/logger.js';
import { ServiceState } from '../../src/coreapi/lifecycle.js';
import { WebhookService } from '../../src/plugins/index.js';
import { createEventBus } from '../../src/runtime/event-bus.js';
import { PanicGuard } from '../../src/runtime/panic-guard.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { noPeersResolver, startInScope, testNet, waitFor } from './helpers.js';

/** An endpoint that takes requests and never answers them (until the test ends). */
async function hangingServer(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req) => {
    requests++;
    req.resume();
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
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests: () => requests };
}

/** A logger that keeps every line (bindings, object and message) as text. */
function recordingLogger(lines: string[], bindings: Record<string, unknown> = {}): Logger {
  const log =
    (level: string) =>
    (a: unknown, b?: unknown): void => {
      lines.push(JSON.stringify({ level, ...bindings, a, b }));
    };
  return {
    trace: log('trace'),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  };
}

describe('audit5 webhook: stop budget', () => {
  it('stops within the runtime stop budget when drainMs is longer and the endpoint hangs', async () => {
    const srv = await hangingServer();
    const bus = createEventBus({ nodeId: 1 });
    onTestFinished(() => bus.close());
    const t = testNet();
    const registry = new ServiceRegistry({ stopBudgetMs: 5_000 });
    const svc = new WebhookService({ url: srv.url, drainMs: 10_000 });
    registry.register(svc);
    await registry.startAll({
      streams: t.node(1),
      identity: {
        nodeId: 1,
        address: { network: 1, node: 1 },
        publicKey: Buffer.alloc(32),
        sign: () => Buffer.alloc(64),
      },
      resolver: noPeersResolver,
      events: bus,
      logger: recordingLogger([]),
    });
    bus.publish('test.event', { i: 1 });
    bus.publish('test.event', { i: 2 });
    await waitFor(() => srv.requests() === 1, 5_000, 'the first POST');
    const started = performance.now();
    await expect(registry.stopAll()).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(registry.snapshot()[0].state).toBe(ServiceState.Stopped);
    // The POST in flight was abandoned (failed), the queued ones dropped.
    expect(svc.stats()).toMatchObject({ sent: 0, failed: 1, queued: 0 });
    expect(svc.stats().dropped).toBeGreaterThanOrEqual(1);
  }, 15_000);
});

describe('audit5 webhook: credentials in the URL', () => {
  it('keeps the password out of log lines and the health message', async () => {
    const srv = await hangingServer();
    const dead = new URL(srv.url);
    dead.username = 'hook';
    dead.password = 's3cr3t-token';
    dead.port = '1'; // nothing listens: every POST fails and is logged
    const lines: string[] = [];
    const t = testNet();
    const svc = new WebhookService({ url: dead.href });
    await startInScope(
      svc,
      {
        streams: t.node(1),
        identity: {
          nodeId: 1,
          address: { network: 1, node: 1 },
          publicKey: Buffer.alloc(32),
          sign: () => Buffer.alloc(64),
        },
        resolver: noPeersResolver,
        events: t.bus,
        logger: recordingLogger(lines),
      },
      new PanicGuard({ events: t.bus }),
    );
    t.bus.publish('test.event', {});
    await waitFor(() => svc.stats().failed === 1, 5_000, 'the failed POST');
    const health = await svc.health();
    expect(health.status).toBe('ok');
    expect(health.message).toContain('hook:***@127.0.0.1:1');
    expect(lines.some((l) => l.includes('webhook POST failed'))).toBe(true);
    expect(lines.some((l) => l.includes('webhook started'))).toBe(true);
    for (const l of [...lines, health.message ?? '']) expect(l).not.toContain('s3cr3t-token');
    // The API still gives the URL as configured.
    expect(svc.url).toBe(dead.href);
  });
});
