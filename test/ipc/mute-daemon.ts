/**
 * A daemon that accepts IPC clients, negotiates the extensions (HelloOK) and then answers nothing, as a
 * SIGSTOPped or wedged daemon would look to a client that is already past connect. A real Unix socket speaking
 * the real IPC framing; `onMessage` may answer selected messages.
 */
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeAddr } from '../../src/coreapi/addr.js';
import { Cmd } from '../../src/ipc/constants.js';
import { FrameDecoder } from '../../src/ipc/frame-decoder.js';
import { encodeFrame } from '../../src/ipc/protocol.js';

export interface MuteDaemon {
  readonly socketPath: string;
  /** A temp directory the test may use (PILOT_HOME); removed by close(). */
  readonly dir: string;
  /** Command bytes received from clients, in order (Hello included). */
  readonly received: number[];
  /** The daemon side of each connected client. */
  clients(): Socket[];
  /** The first message with command byte `cmd` (already received or still to come). */
  message(cmd: number): Promise<Buffer>;
  /** Drop every client (the daemon "crashes"), stop listening and remove the directory. */
  close(): Promise<void>;
}

export async function startMuteDaemon(
  onMessage?: (message: Buffer, client: Socket) => void,
): Promise<MuteDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-mute-'));
  const socketPath = join(dir, 'pilot.sock');
  const received: number[] = [];
  const messages: Buffer[] = [];
  const events = new EventEmitter();
  const clients = new Set<Socket>();
  const server = createServer((sock) => {
    clients.add(sock);
    sock.on('close', () => clients.delete(sock));
    sock.on('error', () => {});
    const decoder = new FrameDecoder();
    sock.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let m = decoder.next(); m; m = decoder.next()) {
        received.push(m[0]);
        messages.push(m);
        if (m[0] === Cmd.Hello) {
          sock.write(encodeFrame({ type: 'helloOK', version: 1, window: 512 * 1024, addr: makeAddr(0, 5) }));
        }
        onMessage?.(m, sock);
        events.emit('message', m);
      }
    });
  });
  server.listen(socketPath);
  await once(server, 'listening');
  return {
    socketPath,
    dir,
    received,
    clients: () => [...clients],
    async message(cmd) {
      const seen = messages.find((m) => m[0] === cmd);
      if (seen) return seen;
      for (;;) {
        const [m] = (await once(events, 'message')) as [Buffer];
        if (m[0] === cmd) return m;
      }
    },
    async close() {
      for (const s of clients) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
