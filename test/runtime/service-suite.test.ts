import { fileURLToPath } from 'node:url';
import type { Service } from '../../src/coreapi/service.js';
import { runServiceSuite } from '../compliance/service-suite.js';

const okEsm = fileURLToPath(new URL('../fixtures/plugins/ok-esm/index.mjs', import.meta.url));

runServiceSuite(
  'ok-esm fixture',
  async (config) => {
    const mod = (await import(okEsm)) as { createService(c: unknown): Service };
    return mod.createService(config);
  },
  { config: { port: 7070, prefix: 'x:' } },
);

runServiceSuite('inline service with tasks, subscriptions and datagrams', () => {
  let cleanup: (() => Promise<void>) | null = null;
  return {
    name: 'inline',
    order: 100,
    async start(deps) {
      const sock = await deps.streams.bindDatagram(9000);
      const sub = deps.events.subscribe('x.*');
      void deps.tasks.run('datagrams', async () => {
        for await (const d of sock) deps.events.publish('x.got', { n: d.data.length });
      });
      void deps.tasks.run('events', async () => {
        for await (const e of sub) void e;
      });
      cleanup = async () => {
        sock.close();
        sub.unsubscribe();
      };
    },
    async stop() {
      await cleanup?.();
    },
    health: () => ({ status: 'ok' }),
  };
});
