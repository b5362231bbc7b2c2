/**
 * An IPC (extension) client whose connection the daemon closes after the peer's FIN was delivered (CloseOK
 * already sent) must still be told: its own write side is open, and its CloseWrite and Send for an id the
 * daemon forgot are dropped. Here the close comes from `pilot disconnect <id>` run by another IPC client
 * (node-control's closeConnection: `c.destroy()`). The client's `end()` must finish or fail, not wait forever.
 */
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { connect } from '../../src/ipc/index.js';
import { createIpcServer } from '../../src/ipc/server.js';
import type { StaticNode } from '../../src/node/static-node.js';
import { pair } from '../streams/helpers.js';
import { FakeControl, tempSocketPath } from './helpers.js';

/** closeConnection as the real daemon does it (src/node/node-control.ts). */
class RealCloseControl extends FakeControl {
  constructor(private readonly node: StaticNode) {
    super(node.addr);
  }
  override closeConnection(connId: number): boolean {
    const c = this.node.streams.connections().find((x) => x.id === connId);
    if (!c) return false;
    c.destroy();
    return true;
  }
}

describe('daemon-side close of a half-closed connection', () => {
  it.each([false, true])(
    "the owning client's end() completes (or fails) instead of waiting forever (disconnect: %s)",
    async (disconnect) => {
      const { a, b } = await pair({ pmtuDiscovery: false });

      // The peer half-closes at once and keeps reading.
      const l = await b.streams.listen(1000);
      void (async () => {
        for await (const s of l) {
          s.on('error', () => {});
          s.resume();
          s.end();
        }
      })();

      const server = await createIpcServer({
        socketPath: tempSocketPath(),
        streams: a.streams,
        control: new RealCloseControl(a),
      });
      onTestFinished(() => server.close());
      const owner = await connect(server.socketPath);
      onTestFinished(() => owner.close());
      const admin = await connect(server.socketPath);
      onTestFinished(() => admin.close());
      expect(owner.extended).toBe(true);

      const s: Stream = await owner.dial(b.addr, 1000);
      const errors: Error[] = [];
      s.on('error', (e) => errors.push(e));
      s.resume();
      await once(s, 'end'); // the peer's FIN reached the client (CloseOK)

      if (disconnect) await admin.disconnect(s.id); // `pilot disconnect <id>` from another client

      const settled = new Promise<string>((resolve) => {
        s.once('finish', () => resolve('finish'));
        s.once('close', () => resolve('close'));
      });
      s.end(Buffer.from('last words'));
      const timeout = new Promise<string>((resolve) =>
        setTimeout(() => resolve('still waiting after 3 s'), 3000).unref(),
      );
      expect(await Promise.race([settled, timeout])).not.toBe('still waiting after 3 s');
    },
    15_000,
  );
});
