/**
 * Conformance of our client side with a reference (V1) registry as the server: V1 answers every handler error with
 * `{"type":"error","error":"request failed"}` (reference §7.1; no `code` field), and a re-implementation may send
 * the specific server-side texts instead, still without our `code`. A raw TCP server speaking hand-built frames
 * plays the reference registry.
 */
import { createServer, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { RegistryClient, RegistryKeySource, RegistryPeerResolver } from '../../src/registry/index.js';
import { makeIdentity, type TestIdentity } from './helpers.js';

type Answer = (msg: Record<string, unknown>) => Record<string, unknown>;

/** A scripted reference registry on 127.0.0.1:0; returns its port. */
async function referenceRegistry(answer: Answer): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (payload) => {
        const reply = answer(JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
        socket.write(encodeFrame(JSON.stringify(reply)));
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

function clientOf(port: number, signer?: TestIdentity): RegistryClient {
  const c = new RegistryClient({ host: '127.0.0.1', port, signer, timeoutMs: 3000 });
  onTestFinished(() => c.close());
  return c;
}

const V1_FAILED = { type: 'error', error: 'request failed' };

describe('our client against a V1 reference registry (generic "request failed" errors)', () => {
  it('resolver: a private peer without trust resolves with a null endpoint; unknown peers and names are ERR_PEER_NOT_FOUND', async () => {
    const me = makeIdentity();
    const peer = makeIdentity();
    const port = await referenceRegistry((msg) => {
      switch (msg.type) {
        case 'register':
          return {
            type: 'register_ok',
            node_id: 7,
            network_id: 0,
            address: '0:0000.0000.0007',
            public_key: msg.public_key,
          };
        case 'lookup':
          if (msg.node_id !== 8) return V1_FAILED; // V1: "node not found" is logged, the client gets this
          return {
            type: 'lookup_ok',
            node_id: 8,
            address: '0:0000.0000.0008',
            networks: [0],
            public_key: peer.publicKeyB64,
            public: false,
            polo_score: 0,
            key_age_days: 2, // a field we do not know: ignored
          };
        default:
          return V1_FAILED; // resolve of a private node without trust; resolve_hostname of an unknown name
      }
    });
    const client = clientOf(port, me);
    await client.register({ listenAddr: '0.0.0.0:4000' });
    const resolver = new RegistryPeerResolver({ client });
    const info = await resolver.resolve(8);
    expect(info.endpoint).toBeNull();
    expect(info.public).toBe(false);
    expect(Buffer.from(info.publicKey).equals(peer.publicKey)).toBe(true);
    await expect(resolver.resolve(404)).rejects.toMatchObject({ code: 'ERR_PEER_NOT_FOUND' });
    await expect(resolver.resolveHostname('nobody')).rejects.toMatchObject({ code: 'ERR_PEER_NOT_FOUND' });

    const keys = new RegistryKeySource({ client });
    expect(await keys.expectedKey(404)).toBeNull();
    expect((await keys.expectedKey(8))?.equals(peer.publicKey)).toBe(true);
  });

  it('error answers without a code carrying the reference server-side texts get their specific codes', async () => {
    const texts: Record<string, string> = {
      resolve: 'resolve denied: node 8 is private (establish mutual trust first)',
      heartbeat: 'signature verification failed',
      deregister: 'signature required for authenticated node',
      set_tags: 'standby mode: write operations not accepted (use primary)',
      lookup: 'node 5 not found',
      set_hostname: 'hostname "web" already in use by node 3',
      list_nodes: 'listing backbone nodes is not permitted (use lookup)',
      list_networks: 'request failed',
    };
    const port = await referenceRegistry((msg) => ({ type: 'error', error: texts[msg.type as string] }));
    const c = clientOf(port, makeIdentity());
    const opts = { nodeId: 1 };
    await expect(c.resolve(8, opts)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_RESOLVE_DENIED',
      message: `registry: ${texts.resolve}`,
    });
    await expect(c.heartbeat(opts)).rejects.toMatchObject({ code: 'ERR_REGISTRY_SIGNATURE' });
    await expect(c.deregister(opts)).rejects.toMatchObject({ code: 'ERR_REGISTRY_SIGNATURE' });
    await expect(c.setTags(['a'], opts)).rejects.toMatchObject({ code: 'ERR_REGISTRY_STANDBY' });
    await expect(c.lookup(5)).rejects.toMatchObject({ code: 'ERR_REGISTRY_NOT_FOUND' });
    await expect(c.setHostname('web', opts)).rejects.toMatchObject({ code: 'ERR_REGISTRY_HOSTNAME_TAKEN' });
    await expect(c.listNodes(0)).rejects.toMatchObject({ code: 'ERR_REGISTRY_FORBIDDEN' });
    await expect(c.listNetworks()).rejects.toMatchObject({ code: 'ERR_REGISTRY_REQUEST_FAILED' });
  });
});
