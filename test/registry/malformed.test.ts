/**
 * Hostile and broken input: malformed JSON, non-objects, unknown types, wrong field types, zero-length,
 * oversized and random frames, error floods, clients that never read, idle connections, connection limits.
 * Each gets a clear error or a closed connection, never a crash, never a partially applied change.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/registry/frame-codec.js';
import {
  clientFor,
  makeIdentity,
  RawConnection,
  registerNode,
  startTestRegistry,
  waitFor,
} from './helpers.js';

function frame(bytes: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(bytes.length);
  return Buffer.concat([h, bytes]);
}

describe('malformed requests', () => {
  it('answers each bad request with a specific error and keeps the connection usable', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server);
    const raw = await RawConnection.open(server);
    const bad: Array<[Buffer | object, string]> = [
      [frame(Buffer.from('{not json')), 'ERR_REGISTRY_BAD_REQUEST'],
      [frame(Buffer.from('[1,2]')), 'ERR_REGISTRY_BAD_REQUEST'],
      [frame(Buffer.from('"lookup"')), 'ERR_REGISTRY_BAD_REQUEST'],
      [frame(Buffer.from('null')), 'ERR_REGISTRY_BAD_REQUEST'],
      [frame(Buffer.alloc(0)), 'ERR_REGISTRY_BAD_REQUEST'],
      [frame(Buffer.from([0xff, 0xfe, 0x00])), 'ERR_REGISTRY_BAD_REQUEST'],
      [{ node_id: 1 }, 'ERR_REGISTRY_BAD_REQUEST'],
      [{ type: 5 }, 'ERR_REGISTRY_BAD_REQUEST'],
      [{ type: 'frobnicate' }, 'ERR_REGISTRY_UNKNOWN_TYPE'],
      [{ type: 'lookup' }, 'ERR_REGISTRY_INVALID_FIELD'],
      [{ type: 'lookup', node_id: '1' }, 'ERR_REGISTRY_INVALID_FIELD'],
      [{ type: 'lookup', node_id: -1 }, 'ERR_REGISTRY_INVALID_FIELD'],
      [{ type: 'lookup', node_id: 1.5 }, 'ERR_REGISTRY_INVALID_FIELD'],
      [{ type: 'lookup', node_id: 2 ** 32 }, 'ERR_REGISTRY_INVALID_FIELD'],
      [{ type: 'list_nodes', network_id: 70000 }, 'ERR_REGISTRY_INVALID_FIELD'],
      [{ type: 'resolve_hostname', hostname: ['a'] }, 'ERR_REGISTRY_INVALID_FIELD'],
      [{ type: 'register', public_key: 7 }, 'ERR_REGISTRY_INVALID_FIELD'],
      [
        { type: 'register', public_key: a.id.publicKeyB64, listen_addr: 'nonsense' },
        'ERR_REGISTRY_INVALID_FIELD',
      ],
      [{ type: 'register', public_key: a.id.publicKeyB64, hostname: 12 }, 'ERR_REGISTRY_INVALID_FIELD'],
    ];
    for (const [msg, code] of bad) {
      const ans = await raw.ask(msg);
      expect(ans, JSON.stringify(msg)).toMatchObject({ type: 'error', code, error: expect.any(String) });
    }
    expect(await raw.ask({ type: 'lookup', node_id: a.nodeId })).toMatchObject({ type: 'lookup_ok' });
    expect(server.state.nodes.size).toBe(1);
  });

  it('never applies part of a refused change', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { hostname: 'keep' });
    await a.client.setTags(['one']);
    const raw = await RawConnection.open(server);
    const snapshot = JSON.stringify(server.state.node(a.nodeId)?.toJson());
    const sig = (c: string): string => a.id.sig(c);
    const refused = [
      { type: 'set_tags', node_id: a.nodeId, tags: ['ok', 'BAD'], signature: sig(`set_tags:${a.nodeId}`) },
      {
        type: 'set_hostname',
        node_id: a.nodeId,
        hostname: 'Bad!',
        signature: sig(`set_hostname:${a.nodeId}`),
      },
      { type: 'set_visibility', node_id: a.nodeId, public: 1, signature: sig(`set_visibility:${a.nodeId}`) },
      {
        type: 'rotate_key',
        node_id: a.nodeId,
        new_public_key: 'short',
        signature: sig(`rotate:${a.nodeId}`),
      },
      { type: 'set_task_exec', node_id: a.nodeId, signature: sig(`set_task_exec:${a.nodeId}`) },
      { type: 'register', public_key: makeIdentity().publicKeyB64, owner: 5 },
    ];
    for (const m of refused) expect((await raw.ask(m)).type).toBe('error');
    expect(JSON.stringify(server.state.node(a.nodeId)?.toJson())).toBe(snapshot);
    expect(server.state.nodes.size).toBe(1);
    expect(server.state.nextNode).toBe(2);
  });
});

describe('framing limits and floods', () => {
  it('an oversized frame gets ERR_REGISTRY_FRAME_TOO_LARGE and the connection is closed; others continue', async () => {
    const server = await startTestRegistry({ maxMessageBytes: 1024 });
    const a = await registerNode(server);
    const raw = await RawConnection.open(server);
    const big = encodeFrame(JSON.stringify({ type: 'lookup', node_id: 1, pad: 'x'.repeat(2000) }));
    raw.send(big);
    expect(await raw.next()).toMatchObject({ type: 'error', code: 'ERR_REGISTRY_FRAME_TOO_LARGE' });
    await raw.closed;
    // A header announcing 4 GiB is refused at once, without waiting for the body.
    const raw2 = await RawConnection.open(server);
    raw2.send(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(await raw2.next()).toMatchObject({ code: 'ERR_REGISTRY_FRAME_TOO_LARGE' });
    await raw2.closed;
    expect((await a.client.lookup(a.nodeId)).node_id).toBe(a.nodeId);
  });

  it('a flood of garbage closes the connection after the protocol-error cap', async () => {
    const server = await startTestRegistry({ maxProtocolErrors: 10 });
    const raw = await RawConnection.open(server);
    const junk = Buffer.concat(Array.from({ length: 50 }, () => frame(Buffer.from('{{{'))));
    raw.send(junk);
    await raw.closed;
    const c = clientFor(server);
    expect((await c.listNetworks()).networks).toHaveLength(1);
  });

  it('random frames and random bytes never crash the server', async () => {
    const server = await startTestRegistry({ maxMessageBytes: 4096 });
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.boolean(),
        async (bytes, framed) => {
          const raw = await RawConnection.open(server);
          raw.send(framed ? frame(Buffer.from(bytes)) : Buffer.from(bytes));
          raw.socket.end();
          await raw.closed;
        },
      ),
      { numRuns: 60 },
    );
    const fuzz = await RawConnection.open(server);
    for (let i = 0; i < 30; i++) {
      const obj: Record<string, unknown> = {
        type: ['lookup', 'register', 'set_tags', 'resolve', 'punch'][i % 5],
      };
      for (const k of ['node_id', 'public_key', 'tags', 'requester_id', 'signature', 'node_a']) {
        obj[k] = [null, -1, 'x', [], {}, true, 2 ** 53, randomBytes(8).toString('base64')][
          (i + k.length) % 8
        ];
      }
      expect((await fuzz.ask(obj)).type).toBe('error');
    }
    const c = clientFor(server);
    expect((await c.register({ publicKey: makeIdentity().publicKey })).node_id).toBe(1);
  });

  it('answers a pipelined burst strictly in order', async () => {
    const server = await startTestRegistry();
    const nodes = [];
    for (let i = 0; i < 3; i++) nodes.push(await registerNode(server));
    const raw = await RawConnection.open(server);
    const burst: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      burst.push(
        encodeFrame(
          JSON.stringify(
            i % 7 === 0 ? { type: 'lookup', node_id: 999 } : { type: 'lookup', node_id: (i % 3) + 1 },
          ),
        ),
      );
    }
    raw.send(Buffer.concat(burst));
    for (let i = 0; i < 3000; i++) {
      const ans = await raw.next();
      if (i % 7 === 0) expect(ans.code).toBe('ERR_REGISTRY_NOT_FOUND');
      else expect(ans.node_id).toBe((i % 3) + 1);
    }
  });

  it('a client that never reads is throttled, not buffered without bound', async () => {
    const server = await startTestRegistry();
    await registerNode(server, { hostname: 'h'.repeat(60) });
    const raw = await RawConnection.open(server);
    raw.socket.pause();
    const one = encodeFrame(JSON.stringify({ type: 'lookup', node_id: 1 }));
    const chunk = Buffer.concat(Array.from({ length: 2000 }, () => one));
    const before = server.stats().requests;
    for (let i = 0; i < 40; i++) raw.socket.write(chunk);
    // The server keeps serving others meanwhile.
    const c = clientFor(server);
    for (let i = 0; i < 5; i++) expect((await c.lookup(1)).node_id).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    // It stopped reading the stuck connection: far fewer than the 80,000 requests were processed.
    expect(server.stats().requests - before).toBeLessThan(80_000);
    raw.socket.destroy();
  });
});

describe('connection management', () => {
  it('closes idle connections after the idle deadline', async () => {
    const server = await startTestRegistry({ idleTimeoutMs: 150 });
    const raw = await RawConnection.open(server);
    expect((await raw.ask({ type: 'list_networks' })).type).toBe('list_networks_ok');
    await raw.closed;
    await waitFor(() => server.stats().connections === 0);
  });

  it('closes a connection that trickles one message for too long', async () => {
    const server = await startTestRegistry({ messageTimeoutMs: 100 });
    const raw = await RawConnection.open(server);
    const msg = encodeFrame(JSON.stringify({ type: 'list_networks', pad: 'x'.repeat(100) }));
    let i = 0;
    const timer = setInterval(() => {
      if (i < msg.length - 1 && !raw.socket.destroyed) raw.socket.write(msg.subarray(i, ++i));
    }, 10);
    try {
      expect(await raw.next(5000)).toMatchObject({ code: 'ERR_REGISTRY_BAD_REQUEST' });
      await raw.closed;
    } finally {
      clearInterval(timer);
    }
    // Pipelined traffic whose chunks always end mid-frame is not affected.
    const busy = await RawConnection.open(server);
    const frames = Buffer.concat(
      Array.from({ length: 40 }, () => encodeFrame(JSON.stringify({ type: 'list_networks' }))),
    );
    for (let off = 0; off < frames.length; off += 37) {
      busy.socket.write(frames.subarray(off, off + 37));
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let k = 0; k < 40; k++) expect((await busy.next()).type).toBe('list_networks_ok');
  });

  it('answers ERR_REGISTRY_BUSY beyond the connection limit', async () => {
    const server = await startTestRegistry({ maxConnections: 2 });
    const r1 = await RawConnection.open(server);
    const r2 = await RawConnection.open(server);
    expect((await r1.ask({ type: 'list_networks' })).type).toBe('list_networks_ok');
    expect((await r2.ask({ type: 'list_networks' })).type).toBe('list_networks_ok');
    const r3 = await RawConnection.open(server);
    expect(await r3.next()).toMatchObject({ code: 'ERR_REGISTRY_BUSY' });
    await r3.closed;
  });
});
