/**
 * Port 0 is not a UDP destination: dgram.send throws ERR_SOCKET_BAD_PORT for it, synchronously. Endpoints
 * that come from the network (a beacon's PunchCommand or DiscoverReply, a directory record) must be dropped
 * and counted before they get there, never thrown out of a socket handler or a promise (either would end
 * the process); endpoints the application passes in are refused with a typed error.
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createNatTraversal } from '../../src/node/nat/index.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel } from '../../src/transport/tunnel.js';
import { makeAddr } from '../../src/coreapi/addr.js';
import { makePacket, PROTO_DATAGRAM } from '../../src/transport/packet.js';
import { waitFor } from '../helpers/wait.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

function collectProcessErrors(): Error[] {
  const errs: Error[] = [];
  const onErr = (e: unknown): void => void errs.push(e as Error);
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onErr);
  onTestFinished(() => {
    process.off('uncaughtException', onErr);
    process.off('unhandledRejection', onErr);
  });
  return errs;
}

describe('port 0 endpoints', () => {
  it('a PunchCommand for port 0 from the beacon address does not throw out of the socket handler', async () => {
    const errs = collectProcessErrors();
    const beacon = await udp();
    const tunnel = await createTunnel({ nodeId: 7, identity: generateEd25519() });
    onTestFinished(() => tunnel.close());
    const nat = createNatTraversal({ tunnel, beacon: `127.0.0.1:${beacon.address().port}` });
    onTestFinished(() => nat.close());
    await nat.resolveBeacon();
    // PunchCommand: type 0x04, ipLen 4, 127.0.0.1, port 0
    const cmd = Buffer.from([0x04, 4, 127, 0, 0, 1, 0, 0]);
    beacon.send(cmd, tunnel.address.port, '127.0.0.1');
    await waitFor(
      () => nat.stats().dropped.malformed === 1 || errs.length > 0,
      3000,
      'punch command handled',
    );
    // Give the handler a chance to finish.
    await new Promise((r) => setImmediate(r));
    expect(errs.map((e) => (e as { code?: string }).code ?? e.message)).toEqual([]);
    expect(nat.stats().punchCommands).toBe(0);
  });

  it('tunnel.punch / sendKxTo with port 0 do not throw', async () => {
    const tunnel = await createTunnel({ nodeId: 7, identity: generateEd25519() });
    onTestFinished(() => tunnel.close());
    expect(() => tunnel.punch({ host: '127.0.0.1', port: 0 })).not.toThrow();
    expect(() => tunnel.sendKxTo({ host: '127.0.0.1', port: 0 })).not.toThrow();
    expect(tunnel.counters().drops.no_route).toBeGreaterThanOrEqual(4);
    // The application's own mistakes are refused with a typed error instead.
    expect(() => tunnel.addPeer(9, { host: '127.0.0.1', port: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_TRANSPORT_CONFIG' }),
    );
    expect(() => tunnel.setBeacon({ host: '127.0.0.1', port: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_TRANSPORT_CONFIG' }),
    );
  });

  it('a directory endpoint with port 0 (async source) does not become an unhandled rejection on send()', async () => {
    const errs = collectProcessErrors();
    const tunnel = await createTunnel({
      nodeId: 7,
      identity: generateEd25519(),
      keys: { expectedKey: () => null },
      endpoints: { resolveEndpoint: async () => ({ host: '127.0.0.1', port: 0 }) },
    });
    onTestFinished(() => tunnel.close());
    const pkt = makePacket({
      protocol: PROTO_DATAGRAM,
      src: makeAddr(0, 7),
      dst: makeAddr(0, 9),
      payload: Buffer.from('x'),
    });
    const unreachable = new Promise((r) => tunnel.once('unreachable', r));
    expect(tunnel.send(pkt)).toBe(true);
    expect(await unreachable).toBe(9);
    await new Promise((r) => setImmediate(r));
    expect(errs.map((e) => (e as { code?: string }).code ?? e.message)).toEqual([]);
  });
});
