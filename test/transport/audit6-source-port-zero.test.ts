/**
 * A datagram whose UDP source port is 0 (spoofed: no real socket sends from port 0) must be dropped and counted,
 * never answered: `dgram.send` to port 0 throws ERR_SOCKET_BAD_PORT synchronously, and the key-exchange request
 * a tunnel sends back for a `PILS` it cannot open went straight to the source, from inside the socket handler
 * (an uncaught exception ends the process).
 *
 * Node has no raw sockets, so the datagram is sent through a raw socket by python3; the test is skipped where
 * that is not permitted (it needs CAP_NET_RAW).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { makeNode } from './tunnel/tunnel-helpers.js';

/** Send `payload` to 127.0.0.1:`port` from UDP source port 0. False when raw sockets are not available. */
function sendFromPortZero(port: number, payload: Buffer): boolean {
  const py = [
    'import socket, struct, sys',
    'p = bytes.fromhex(sys.argv[2])',
    'sk = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)',
    "sk.sendto(struct.pack('!HHHH', 0, int(sys.argv[1]), 8 + len(p), 0) + p, ('127.0.0.1', 0))",
  ].join('\n');
  try {
    execFileSync('python3', ['-c', py, String(port), payload.toString('hex')], {
      stdio: 'ignore',
      timeout: 5000,
    });
    return true;
  } catch {
    return false;
  }
}

function collectProcessErrors(): Error[] {
  const errs: Error[] = [];
  const onErr = (e: unknown): void => void errs.push(e as Error);
  process.on('uncaughtException', onErr);
  onTestFinished(() => {
    process.off('uncaughtException', onErr);
  });
  return errs;
}

describe('datagrams from source port 0', () => {
  it('a PILS for an unknown session from port 0 is dropped, not answered with a throw', async (ctx) => {
    const a = await makeNode(1);
    const errs = collectProcessErrors();
    // PILS from node 77 (no session): normally answered with our key exchange, to the source.
    const pils = Buffer.alloc(36);
    pils.write('PILS', 0, 'latin1');
    pils.writeUInt32BE(77, 4);
    if (!sendFromPortZero(a.tunnel.address.port, pils)) return ctx.skip('raw sockets not permitted');
    await waitFor(() => a.tunnel.counters().rxPackets === 1, 3000, 'the datagram at A');
    await new Promise((r) => setImmediate(r));
    expect(errs.map((e) => (e as { code?: string }).code ?? e.message)).toEqual([]);
    expect(a.tunnel.counters().drops.bad_source).toBe(1);
    expect(a.tunnel.counters().txPackets).toBe(0);
  });
});
