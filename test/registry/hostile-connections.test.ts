/**
 * Connection-level resource bounds against hostile clients: a message that stops arriving mid-frame, and
 * connections refused as busy whose client keeps its side open. Both must be closed by the server on its own,
 * so remote peers cannot pin buffers or file descriptors.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeFrame } from '../../src/registry/frame-codec.js';
import { RawConnection, startTestRegistry } from './helpers.js';

/** Resolves true when `p` settles within `ms`, false otherwise (a bound, not a sleep). */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

describe('hostile connections', () => {
  it('closes a connection whose message stalls mid-frame after messageTimeoutMs, not the idle timeout', async () => {
    const server = await startTestRegistry({ messageTimeoutMs: 200, idleTimeoutMs: 60_000 });
    const raw = await RawConnection.open(server);
    // Announce a 100 KiB message, send a few bytes of it, then go silent (holding the buffer).
    const head = Buffer.alloc(4);
    head.writeUInt32BE(100 * 1024);
    raw.send(Buffer.concat([head, Buffer.from('{"type":"lookup"')]));
    expect(await within(raw.closed, 4000)).toBe(true);
    // Complete messages on other connections are unaffected.
    const ok = await RawConnection.open(server);
    expect((await ok.ask({ type: 'list_networks' })).type).toBe('list_networks_ok');
  });

  it('releases a busy-refused connection whose client sent a request and then closed', async () => {
    const server = await startTestRegistry({ maxConnections: 1 });
    const holder = await RawConnection.open(server);
    expect((await holder.ask({ type: 'list_networks' })).type).toBe('list_networks_ok');
    const addr = server.address;
    if (!addr) throw new Error('not listening');
    // A well-behaved pipelining client: writes its request at once, reads the BUSY answer, closes.
    const s = connect({ host: addr.host, port: addr.port });
    s.on('error', () => {});
    s.on('connect', () => s.write(encodeFrame(JSON.stringify({ type: 'list_networks' }))));
    s.on('data', () => {});
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    holder.socket.destroy();
    await holder.closed;
    // Nothing of the refused connection may remain: close() (which waits for every socket) finishes promptly.
    expect(await within(server.close(), 1000)).toBe(true);
  });

  it('closes connections refused as busy even when the client never closes its side', async () => {
    const server = await startTestRegistry({ maxConnections: 1 });
    const holder = await RawConnection.open(server);
    expect((await holder.ask({ type: 'list_networks' })).type).toBe('list_networks_ok');
    const addr = server.address;
    if (!addr) throw new Error('not listening');
    // A hostile client: keeps its write side open after the server's FIN (allowHalfOpen).
    const s: Socket = connect({ host: addr.host, port: addr.port, allowHalfOpen: true });
    onTestFinished(() => {
      s.destroy();
    });
    s.on('error', () => {});
    let answer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      answer = Buffer.concat([answer, d]);
    });
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    await new Promise<void>((resolve) => s.once('end', () => resolve()));
    expect(answer.subarray(4).toString('utf8')).toContain('ERR_REGISTRY_BUSY');
    // Keep talking: once the server has really closed the socket, a write is answered with a reset.
    const probe = encodeFrame(JSON.stringify({ type: 'list_networks' }));
    const timer = setInterval(() => {
      if (!s.destroyed) s.write(probe);
    }, 50);
    try {
      expect(await within(closed, 6000)).toBe(true);
    } finally {
      clearInterval(timer);
      s.destroy(); // before the server's close (which waits for its sockets) runs
    }
  });
});
