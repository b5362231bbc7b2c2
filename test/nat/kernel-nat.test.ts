/**
 * Two daemons behind two real Linux NATs (network namespaces, veth pairs, iptables MASQUERADE), with the
 * registry and the beacon on the public side: the dial's direct attempt is dropped by the NAT, the beacon's
 * hole punch opens both NATs, and a transfer checked by SHA-256 runs on the direct path. Behind NATs that
 * pick a random port for every flow (symmetric), punching cannot work and the transfer uses the relay.
 * Without the routers' INPUT drop rule, conntrack may give a reply another port; which path then wins is a
 * race (the tunnel follows an authenticated new source port), so that case asserts only a correct transfer.
 * Needs root, iproute2 and iptables (Debian packages `iproute2`, `iptables`); skipped with a reason otherwise.
 */
import { describe, expect, it } from 'vitest';
import { KernelNatLab, kernelNatUnavailable, type LineChild } from './kernel-nat-lab.js';

const why = kernelNatUnavailable();
if (why !== null) console.log(`kernel NAT test skipped: ${why}`);

interface PeerRow {
  endpoint: string | null;
  relay: boolean;
  encrypted: boolean;
}
interface Info {
  peer: PeerRow | null;
  nat: { punchRequests: number; punchSucceeded: number; punchCommands: number };
}

interface Sites {
  lab: KernelNatLab;
  a: LineChild;
  b: LineChild;
  idA: number;
  idB: number;
}

/** Registry + beacon on the public side, one node behind each of two kernel NATs. */
async function sites(nat: { dropInput?: boolean; symmetric?: boolean }): Promise<Sites> {
  const lab = new KernelNatLab();
  try {
    const { inet, hosts, publicIp } = lab.build(2, nat);
    const rv = lab.spawn(inet, 'test/nat/fixtures/rendezvous.ts', [publicIp]);
    const ready = await rv.next((m) => m.event === 'ready' || m.event === 'error');
    if (ready.event !== 'ready') throw new Error(`rendezvous failed: ${String(ready.error)}`);
    const opts = JSON.stringify({
      registry: ready.registry,
      beacon: ready.beacon,
      streams: { synRtoMs: 300, synRtoMaxMs: 1000, dialTimeoutMs: 20_000 },
      // Where a punch must win, the relay comes only after many SYN retries (a stall cannot hand it the race).
      nat: { repunchIntervalMs: 60_000, ...(nat.symmetric === true ? {} : { relayAttempt: 8 }) },
    });
    const a = lab.spawn(hosts[0], 'test/nat/fixtures/nat-node.ts', [opts]);
    const b = lab.spawn(hosts[1], 'test/nat/fixtures/nat-node.ts', [opts]);
    const [ra, rb] = await Promise.all([
      a.next((m) => m.event === 'ready' || m.event === 'error'),
      b.next((m) => m.event === 'ready' || m.event === 'error'),
    ]);
    if (ra.event !== 'ready' || rb.event !== 'ready') {
      throw new Error(`node start failed: ${String(ra.error ?? rb.error)}`);
    }
    // Each node discovered its NAT's public address, not its private one.
    expect((ra.discovered as { host: string }).host).toBe('10.201.1.2');
    expect((rb.discovered as { host: string }).host).toBe('10.201.2.2');
    return { lab, a, b, idA: ra.nodeId as number, idB: rb.nodeId as number };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

async function send(s: Sites, size: number): Promise<{ ia: Info; ib: Info }> {
  await s.b.call('serve', { port: 1000 });
  const r = await s.a.call<{ hash: string; expected: string }>('send', {
    node: s.idB,
    port: 1000,
    size,
    seed: 11,
  });
  expect(r.hash).toBe(r.expected);
  return {
    ia: await s.a.call<Info>('info', { peer: s.idB }),
    ib: await s.b.call<Info>('info', { peer: s.idA }),
  };
}

describe.skipIf(why !== null)('real kernel NATs (network namespaces, MASQUERADE)', () => {
  it('punches through both NATs and transfers 512 KiB directly', async ({ onTestFinished }) => {
    const s = await sites({ dropInput: true });
    onTestFinished(() => s.lab.destroy());
    const { ia, ib } = await send(s, 512 * 1024);
    // Direct on both sides, at the other NAT's public address.
    expect(ia.peer).toMatchObject({ relay: false, encrypted: true });
    expect(ib.peer).toMatchObject({ relay: false, encrypted: true });
    expect(ia.peer?.endpoint?.startsWith('10.201.2.2:')).toBe(true);
    expect(ib.peer?.endpoint?.startsWith('10.201.1.2:')).toBe(true);
    // The first direct attempt was dropped by B's NAT: the path needed the beacon's punch.
    expect(ia.nat.punchRequests).toBeGreaterThan(0);
    expect(ib.nat.punchCommands).toBeGreaterThan(0);
    expect(ia.nat.punchSucceeded + ib.nat.punchSucceeded).toBeGreaterThan(0);
  }, 60_000);

  it('falls back to the relay behind two symmetric NATs (a random port per flow)', async ({
    onTestFinished,
  }) => {
    const s = await sites({ dropInput: true, symmetric: true });
    onTestFinished(() => s.lab.destroy());
    const { ia, ib } = await send(s, 256 * 1024);
    expect(ia.nat.punchRequests).toBeGreaterThan(0);
    expect(ia.peer).toMatchObject({ relay: true, encrypted: true });
    expect(ib.peer).toMatchObject({ relay: true, encrypted: true });
  }, 60_000);

  it('without the INPUT drop (conntrack may remap the reply port) the transfer completes, direct or relayed', async ({
    onTestFinished,
  }) => {
    const s = await sites({ dropInput: false });
    onTestFinished(() => s.lab.destroy());
    const { ia, ib } = await send(s, 256 * 1024);
    expect(ia.nat.punchRequests).toBeGreaterThan(0);
    for (const [info, publicIp] of [
      [ia, '10.201.2.2'],
      [ib, '10.201.1.2'],
    ] as const) {
      expect(info.peer?.encrypted).toBe(true);
      // A direct path can only be the other NAT's public address.
      if (info.peer?.relay === false) expect(info.peer.endpoint?.startsWith(`${publicIp}:`)).toBe(true);
    }
  }, 60_000);
});
