/**
 * The tunnel says when the directory's lookup for a new peer row finished: 'resolved' (nodeId) when it gave an
 * endpoint, 'unreachable' (nodeId) when it did not (the row is dropped). The NAT module's first-contact punch
 * and the streams stack's fast dial failure wait on these.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { makePacket, PROTO_DATAGRAM } from '../../src/transport/packet.js';
import { createTunnel } from '../../src/transport/tunnel.js';

describe("the tunnel's lookup events", () => {
  it("emits 'resolved' once for a node the directory knows, 'unreachable' for one it does not", async () => {
    const tunnel = await createTunnel({
      nodeId: 7,
      identity: generateEd25519(),
      keys: { expectedKey: () => null },
      endpoints: {
        resolveEndpoint: async (id: number) => (id === 9 ? { host: '127.0.0.1', port: 9 } : null),
      },
    });
    onTestFinished(() => tunnel.close());
    const seen: string[] = [];
    tunnel.on('resolved', (id: number) => seen.push(`resolved ${id}`));
    tunnel.on('unreachable', (id: number) => seen.push(`unreachable ${id}`));
    const send = (node: number): boolean =>
      tunnel.send(
        makePacket({
          protocol: PROTO_DATAGRAM,
          src: makeAddr(0, 7),
          dst: makeAddr(0, node),
          payload: Buffer.from('x'),
        }),
      );
    const done = new Promise<void>((resolve) => {
      const check = (): void => {
        if (seen.length >= 2) resolve();
      };
      tunnel.on('resolved', check);
      tunnel.on('unreachable', check);
    });
    send(9);
    send(9); // queued behind the same lookup: no second event
    send(11);
    await done;
    await new Promise((r) => setImmediate(r));
    expect(seen.sort()).toEqual(['resolved 9', 'unreachable 11']);
    expect(tunnel.peer(9)?.endpoint).toBe('127.0.0.1:9');
    expect(tunnel.peer(11)).toBeNull();
  }, 5_000);
});
