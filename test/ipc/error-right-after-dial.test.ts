/**
 * A daemon answer that opens a connection and, in the same socket read, reports it failed (DialOK followed by
 * StreamError: the remote reset it at once, or the daemon lost it). The driver handles both frames in one turn;
 * the stream's 'error' must wait until the caller got the stream and could listen, or it is an uncaught
 * exception (`pilot publish` to a broker that refuses crashed with a stack trace this way).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { ConnectionResetError } from '../../src/coreapi/errors.js';
import { Cmd } from '../../src/ipc/constants.js';
import { errorToWire } from '../../src/ipc/errors.js';
import { connect } from '../../src/ipc/index.js';
import { encodeFrame } from '../../src/ipc/protocol.js';
import { startMuteDaemon, type MuteDaemon } from './mute-daemon.js';

let daemon: MuteDaemon | null = null;
afterEach(async () => {
  await daemon?.close();
  daemon = null;
});

describe('an error reported in the same read as the DialOK', () => {
  it('reaches the error listener the caller adds after the dial resolves', async () => {
    daemon = await startMuteDaemon((m, client) => {
      if (m[0] !== Cmd.DialEx) return;
      const tag = m.readUInt32BE(1);
      client.write(
        Buffer.concat([
          encodeFrame({ type: 'dialExOK', tag, connId: 41, localPort: 50000 }),
          encodeFrame({
            type: 'streamError',
            connId: 41,
            error: errorToWire(new ConnectionResetError('connection reset by peer')),
          }),
        ]),
      );
    });
    const uncaught: Error[] = [];
    const onUncaught = (err: Error): void => {
      uncaught.push(err);
    };
    process.on('uncaughtException', onUncaught);
    const driver = await connect(daemon.socketPath);
    try {
      const s = await driver.dial(makeAddr(0, 9), 1002);
      let err: (Error & { code?: string }) | null = null;
      s.on('error', (e: Error) => {
        err = e;
      });
      // (events.once would reject on the 'error' event itself.)
      if (!s.closed) await new Promise((resolve) => s.once('close', resolve));
      expect(uncaught.map((e) => e.message)).toEqual([]);
      expect(err).not.toBeNull();
      expect(err!.code).toBe('ERR_CONNECTION_RESET');
    } finally {
      process.off('uncaughtException', onUncaught);
      await driver.close();
    }
  });
});
