/**
 * Audit: a PILP is unauthenticated and names its sender's node ID. After a PunchCommand for an IP, every PILP from
 * that IP was answered (a PILP and our 136-byte key exchange, 18 times the 8 bytes asked for) as long as it named a
 * node ID not answered in the last 200 ms: anyone at, or spoofing, that IP got unbounded answers by counting
 * node IDs, and each ID also took a slot in the punch tables.
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodePunchCommand } from '../../src/beacon/index.js';
import { createNatTraversal } from '../../src/node/nat/index.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel } from '../../src/transport/tunnel.js';
import { waitFor } from '../helpers/wait.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

function pilp(nodeId: number): Buffer {
  const b = Buffer.from('PILP\0\0\0\0', 'latin1');
  b.writeUInt32BE(nodeId, 4);
  return b;
}

describe('answers to punches', () => {
  it('are bounded overall, whatever node IDs the punches name', async () => {
    const beacon = await udp();
    const attacker = await udp();
    let received = 0;
    attacker.on('message', () => received++);
    const t = await createTunnel({ identity: generateEd25519(), nodeId: 9 });
    onTestFinished(() => t.close());
    const nat = createNatTraversal({ tunnel: t, beacon: `127.0.0.1:${beacon.address().port}` });
    onTestFinished(() => nat.close());
    await nat.resolveBeacon();
    nat.start();
    // The beacon tells the node to punch the attacker's IP (as for any peer behind that IP).
    beacon.send(
      encodePunchCommand({ host: '127.0.0.1', port: attacker.address().port }),
      t.address.port,
      '127.0.0.1',
    );
    await waitFor(() => nat.stats().punchCommands === 1, 2000, 'PunchCommand');
    const N = 1000;
    for (let i = 0; i < N; i++) attacker.send(pilp(1000 + i), t.address.port, '127.0.0.1');
    await waitFor(() => nat.stats().punchesReceived >= N, 3000, 'punches processed');
    const answers = nat.stats().punchAnswers;
    // One answer is a PILP and a key exchange; the flood spans at most a couple of one-second windows.
    expect(answers).toBeGreaterThan(0);
    expect(answers).toBeLessThanOrEqual(2 * 64);
    await waitFor(() => received >= nat.options.punchCount + 1 + 2 * answers, 2000, 'answers arrive');
    expect(received).toBe(nat.options.punchCount + 1 + 2 * answers);
    // A real peer's punch is still answered once the window turns (the limit is per second, not for good).
    const before = nat.stats().punchAnswers;
    await waitFor(
      () => {
        attacker.send(pilp(77), t.address.port, '127.0.0.1');
        return nat.stats().punchAnswers > before;
      },
      3000,
      'answer after the window',
    );
  });
});
