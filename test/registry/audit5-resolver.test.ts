/**
 * Audit 5: PeerResolver and RegistryKeySource against a registry whose `lookup` answers are malformed: a missing
 * or wrong-size key, or the record of another node. These must fail with the stable ERR_REGISTRY_PROTOCOL, never
 * a code-less TypeError, never cache or hand out another node's key, and the key source must not report a node
 * with a garbled key as "no such node" (`null`, which the tunnel reads as "no registered key").
 */
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { RegistryClient, RegistryKeySource, RegistryPeerResolver } from '../../src/registry/index.js';

const KEY = Buffer.alloc(32, 7).toString('base64');

/** Lookup answers by node ID; anything else is not found. */
const ANSWERS: Record<number, Record<string, unknown>> = {
  // No key at all.
  5: {
    type: 'lookup_ok',
    node_id: 5,
    address: '0:0000.0000.0005',
    networks: [0],
    public: true,
    polo_score: 0,
  },
  // Someone else's record.
  6: {
    type: 'lookup_ok',
    node_id: 7,
    address: '0:0000.0000.0007',
    networks: [0],
    public_key: KEY,
    public: true,
  },
  // A 16-byte key.
  8: { type: 'lookup_ok', node_id: 8, public_key: Buffer.alloc(16, 1).toString('base64'), public: true },
  // A key that is not a string.
  9: { type: 'lookup_ok', node_id: 9, public_key: 12345, public: true },
  // A good record.
  10: { type: 'lookup_ok', node_id: 10, public_key: KEY, public: true, real_addr: '127.0.0.1:4000' },
};

async function fakeRegistry(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (payload) => {
        const m = JSON.parse(payload.toString()) as { type: string; node_id?: number };
        const a = m.type === 'lookup' ? ANSWERS[m.node_id ?? -1] : undefined;
        socket.write(
          encodeFrame(
            JSON.stringify(
              a ?? { type: 'error', error: `node ${m.node_id} not found`, code: 'ERR_REGISTRY_NOT_FOUND' },
            ),
          ),
        );
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
  return (server.address() as { port: number }).port;
}

describe('audit5: malformed lookup answers', () => {
  it('PeerResolver rejects them with ERR_REGISTRY_PROTOCOL and caches nothing', async () => {
    const port = await fakeRegistry();
    const client = new RegistryClient({ host: '127.0.0.1', port, timeoutMs: 2000 });
    onTestFinished(() => client.close());
    const resolver = new RegistryPeerResolver({ client });
    for (const id of [5, 6, 8, 9]) {
      await expect(resolver.resolve(id), `node ${id}`).rejects.toMatchObject({
        code: 'ERR_REGISTRY_PROTOCOL',
      });
    }
    expect(resolver.cacheSize).toBe(0);
    // Good answers and unknown nodes are unaffected.
    const ok = await resolver.resolve(10);
    expect(ok.publicKey.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(ok.endpoint).toEqual({ host: '127.0.0.1', port: 4000 });
    await expect(resolver.resolve(11)).rejects.toMatchObject({ code: 'ERR_PEER_NOT_FOUND' });
  });

  it('RegistryKeySource rejects them with ERR_REGISTRY_PROTOCOL instead of answering null or a wrong key', async () => {
    const port = await fakeRegistry();
    const client = new RegistryClient({ host: '127.0.0.1', port, timeoutMs: 2000 });
    onTestFinished(() => client.close());
    const keys = new RegistryKeySource({ client });
    for (const id of [5, 6, 8, 9]) {
      await expect(keys.expectedKey(id), `node ${id}`).rejects.toMatchObject({
        code: 'ERR_REGISTRY_PROTOCOL',
      });
    }
    expect((await keys.expectedKey(10))?.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(await keys.expectedKey(11)).toBeNull();
  });
});
