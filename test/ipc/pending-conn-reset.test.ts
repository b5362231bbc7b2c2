/**
 * A stream that fails while its ServerConn is still Pending (its DialOK queued behind an earlier, slower
 * reply) must be reported once the DialOK is written; otherwise the client holds a connection id for which
 * the daemon never sends CloseOK, and its reads never end. Reference-protocol clients only (Dial replies are
 * ordered; DialEx and Accept announce at once).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { connect } from '../../src/ipc/index.js';
import { createIpcServer } from '../../src/ipc/server.js';
import { pair } from '../streams/helpers.js';
import { FakeControl, tempSocketPath } from './helpers.js';

describe('a conn that fails before its DialOK is written', () => {
  it.each([false, true])(
    'the client learns the connection is gone (slow earlier request: %s)',
    async (withSlow) => {
      const { a, b } = await pair({ pmtuDiscovery: false, dialTimeoutMs: 1000 });

      // A service that refuses at once (as dataexchange/eventstream do over their connection limit): RST.
      const l = await b.streams.listen(1000);
      let refused = 0;
      void (async () => {
        for await (const s of l) {
          refused++;
          s.destroy();
        }
      })();

      const server = await createIpcServer({
        socketPath: tempSocketPath(),
        streams: a.streams,
        control: new FakeControl(a.addr),
      });
      onTestFinished(() => server.close());
      const driver = await connect(server.socketPath, { extensions: false, helloTimeoutMs: 500 });
      onTestFinished(() => driver.close());
      expect(driver.extended).toBe(false);

      // A slow request first (a dial to a node that never answers: fails after the 1 s dial timeout) ...
      const slow = withSlow
        ? driver.dial({ network: 0, node: 77 }, 1).catch((e: Error) => e)
        : Promise.resolve(new Error('no slow request'));
      // ... then a dial that succeeds and is reset by the peer while its DialOK waits behind the slow reply.
      const s: Stream = await driver.dial(b.addr, 1000);
      expect(await slow).toBeInstanceOf(Error);
      expect(refused).toBe(1);

      const outcome = new Promise<string>((resolve) => {
        s.on('error', () => resolve('error'));
        s.once('end', () => resolve('end'));
        s.once('close', () => resolve('close'));
        s.resume();
      });
      const timeout = new Promise<string>((resolve) =>
        setTimeout(() => resolve('no end, no error after 3 s'), 3000).unref(),
      );
      expect(await Promise.race([outcome, timeout])).not.toBe('no end, no error after 3 s');
    },
    15_000,
  );
});
