/**
 * Audit: a standby following a buggy or hostile primary. A frame that is valid JSON but not an object (`null`)
 * must not crash the standby's process; it drops the connection and resynchronises from a fresh snapshot.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { startTestRegistry, makeIdentity, waitFor } from './helpers.js';

/** A scripted primary: after the subscribe frame on connection `n`, writes `script(n)`. */
async function fakePrimary(script: (conn: number) => Buffer): Promise<{ port: number; conns: () => number }> {
  let conns = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const conn = ++conns;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (payload) => {
        const msg = JSON.parse(payload.toString()) as { type?: string };
        if (msg.type === 'subscribe_replication' && !socket.destroyed) socket.write(script(conn));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as { port: number }).port, conns: () => conns };
}

const frame = (v: unknown): Buffer => encodeFrame(JSON.stringify(v));

describe('audit: follower against a malformed primary', () => {
  it('a `null` frame does not crash the standby; it reconnects and loads the next snapshot', async () => {
    const id = makeIdentity();
    const snapshot = {
      next_node: 2,
      next_net: 1,
      nodes: { '1': { id: 1, public_key: id.publicKeyB64, networks: [] } },
    };
    const primary = await fakePrimary((conn) =>
      conn === 1 ? frame(null) : frame({ type: 'replication_snapshot', seq: 1, snapshot }),
    );
    const standby = await startTestRegistry({
      standby: { host: '127.0.0.1', port: primary.port, token: 'rep', reconnectMs: 20 },
      replicationToken: 'rep',
    });
    await waitFor(() => standby.state.node(1) !== undefined, 5000);
    expect(primary.conns()).toBeGreaterThanOrEqual(2);
    expect(standby.state.node(1)?.publicKey).toBe(id.publicKeyB64);
  });
});
