import { describe, expect, it } from 'vitest';
import {
  BeaconMsgType,
  decodeBeaconMessage,
  encodeDiscover,
  encodePunchRequest,
  encodeRelay,
  type Beacon,
} from '../../src/beacon/index.js';
import { encodePilpFrame, frameKind } from '../../src/transport/frames.js';
import type {
  NatClient,
  NatFiltering,
  NatMapping,
  NatSimulator,
  UdpEndpoint,
} from '../helpers/nat-simulator.js';
import { beacon, Inbox, nat, udpWithInbox, waitFor } from './util.js';

// Outside hosts live on distinct loopback IPs so address- and port-dependent behaviour differ.
const NAT_A_IP = '127.0.0.2';
const NAT_B_IP = '127.0.0.3';
const OUTSIDE_1 = '127.0.0.4';
const OUTSIDE_2 = '127.0.0.5';

async function client(n: NatSimulator): Promise<{ c: NatClient; inbox: Inbox }> {
  const c = await n.createClient();
  return { c, inbox: new Inbox(c) };
}

describe('NAT simulator: mapping behaviour', () => {
  const cases: Array<[NatMapping, (x: number, x2: number, y: number) => void]> = [
    [
      'endpoint-independent',
      (x, x2, y) => {
        expect(x2).toBe(x);
        expect(y).toBe(x);
      },
    ],
    [
      'address-dependent',
      (x, x2, y) => {
        expect(x2).toBe(x);
        expect(y).not.toBe(x);
      },
    ],
    [
      'address-and-port-dependent',
      (x, x2, y) => {
        expect(x2).not.toBe(x);
        expect(y).not.toBe(x);
        expect(y).not.toBe(x2);
      },
    ],
  ];
  for (const [mapping, check] of cases) {
    it(`${mapping}: the public source port seen by outside hosts`, async () => {
      const n = await nat({ mapping, filtering: 'endpoint-independent', publicHost: NAT_A_IP });
      const { c } = await client(n);
      const x = await udpWithInbox(OUTSIDE_1);
      const x2 = await udpWithInbox(OUTSIDE_1);
      const y = await udpWithInbox(OUTSIDE_2);
      c.send(Buffer.from('to-x'), x.port, OUTSIDE_1);
      c.send(Buffer.from('to-x2'), x2.port, OUTSIDE_1);
      c.send(Buffer.from('to-y'), y.port, OUTSIDE_2);
      const [rx, rx2, ry] = await Promise.all([x.inbox.next(), x2.inbox.next(), y.inbox.next()]);
      expect([rx.msg.toString(), rx2.msg.toString(), ry.msg.toString()]).toEqual(['to-x', 'to-x2', 'to-y']);
      for (const r of [rx, rx2, ry]) {
        expect(r.rinfo.address).toBe(NAT_A_IP);
        expect(r.rinfo.port).not.toBe(c.address().port);
      }
      check(rx.rinfo.port, rx2.rinfo.port, ry.rinfo.port);
      expect(n.publicEndpointFor(c, { host: OUTSIDE_1, port: x.port })).toEqual({
        host: NAT_A_IP,
        port: rx.rinfo.port,
      });
    });
  }
});

describe('NAT simulator: filtering behaviour', () => {
  /** Client behind an EIM NAT with `filtering` has sent to X; then X2 (same IP) and Y (other IP) try inbound. */
  async function setup(filtering: NatFiltering) {
    const n = await nat({ mapping: 'endpoint-independent', filtering, publicHost: NAT_A_IP });
    const { c, inbox } = await client(n);
    const x = await udpWithInbox(OUTSIDE_1);
    const x2 = await udpWithInbox(OUTSIDE_1);
    const y = await udpWithInbox(OUTSIDE_2);
    c.send(Buffer.from('hi'), x.port, OUTSIDE_1);
    const pub = (await x.inbox.next()).rinfo;
    /** Send from `s` to the mapping; resolves true if the client got it, false if the NAT filtered it. */
    const probe = async (s: typeof x, tag: string): Promise<boolean> => {
      const filteredBefore = n.stats().filtered;
      s.sock.send(Buffer.from(tag), pub.port, pub.address);
      const arrived = (): boolean => inbox.count((r) => r.msg.toString() === tag) > 0;
      await waitFor(() => arrived() || n.stats().filtered > filteredBefore, 3000, `probe ${tag}`);
      return arrived();
    };
    return { n, c, inbox, x, x2, y, probe };
  }

  it('endpoint-independent (full cone): anyone reaches the mapping', async () => {
    const { probe, x, x2, y } = await setup('endpoint-independent');
    expect(await probe(x, 'from-x')).toBe(true);
    expect(await probe(x2, 'from-x2')).toBe(true);
    expect(await probe(y, 'from-y')).toBe(true);
  });

  it('address-dependent (restricted cone): only IPs the client sent to', async () => {
    const { probe, x, x2, y, c, inbox } = await setup('address-dependent');
    expect(await probe(x, 'from-x')).toBe(true);
    expect(await probe(x2, 'from-x2')).toBe(true);
    expect(await probe(y, 'from-y')).toBe(false);
    // Once the client has sent to Y's IP, Y gets through.
    c.send(Buffer.from('open'), y.port, OUTSIDE_2);
    await y.inbox.next();
    expect(await probe(y, 'from-y-again')).toBe(true);
    expect(inbox.count((r) => r.msg.toString() === 'from-y')).toBe(0);
  });

  it('address-and-port-dependent (port-restricted cone): only IP:ports the client sent to', async () => {
    const { probe, x, x2, y, n } = await setup('address-and-port-dependent');
    expect(await probe(x, 'from-x')).toBe(true);
    expect(await probe(x2, 'from-x2')).toBe(false);
    expect(await probe(y, 'from-y')).toBe(false);
    expect(n.stats().filtered).toBe(2);
    expect(n.mappings()[0].permits).toEqual([`${OUTSIDE_1}:${x.port}`]);
  });

  it('idle mappings expire and a new one is created', async () => {
    const n = await nat({
      mapping: 'endpoint-independent',
      filtering: 'endpoint-independent',
      publicHost: NAT_A_IP,
      mappingTimeoutMs: 60,
    });
    const { c } = await client(n);
    const x = await udpWithInbox(OUTSIDE_1);
    c.send(Buffer.from('1'), x.port, OUTSIDE_1);
    const first = (await x.inbox.next()).rinfo.port;
    await waitFor(() => n.mappings().length === 0, 3000, 'mapping expiry');
    c.send(Buffer.from('2'), x.port, OUTSIDE_1);
    const second = (await x.inbox.next()).rinfo.port;
    expect(second).not.toBe(first);
    expect(n.stats().mappingsCreated).toBe(2);
  });
});

interface Side {
  n: NatSimulator;
  c: NatClient;
  inbox: Inbox;
  nodeId: number;
  /** Public endpoint the beacon observed. */
  observed: UdpEndpoint;
}

async function behindNat(
  b: Beacon,
  mapping: NatMapping,
  filtering: NatFiltering,
  ip: string,
  nodeId: number,
) {
  const n = await nat({ mapping, filtering, publicHost: ip });
  const { c, inbox } = await client(n);
  c.send(encodeDiscover(nodeId), b.address().port, '127.0.0.1');
  const reply = decodeBeaconMessage((await inbox.nextType(BeaconMsgType.DiscoverReply)).msg);
  if (reply.type !== BeaconMsgType.DiscoverReply) throw new Error('expected DiscoverReply');
  expect(reply.endpoint.host).toBe(ip);
  return { n, c, inbox, nodeId, observed: reply.endpoint } satisfies Side;
}

/** A asks the beacon to punch to B; both get PunchCommand and send 3 PILP rounds, as the reference node does. */
async function punch(b: Beacon, a: Side, bb: Side): Promise<{ toA: UdpEndpoint; toB: UdpEndpoint }> {
  a.c.send(encodePunchRequest(a.nodeId, bb.nodeId), b.address().port, '127.0.0.1');
  const cmdA = decodeBeaconMessage((await a.inbox.nextType(BeaconMsgType.PunchCommand)).msg);
  const cmdB = decodeBeaconMessage((await bb.inbox.nextType(BeaconMsgType.PunchCommand)).msg);
  if (cmdA.type !== BeaconMsgType.PunchCommand || cmdB.type !== BeaconMsgType.PunchCommand)
    throw new Error('cmd');
  expect(cmdA.endpoint).toEqual(bb.observed);
  expect(cmdB.endpoint).toEqual(a.observed);
  for (let round = 1; round <= 3; round++) {
    const outA = a.n.stats().outbound;
    const outB = bb.n.stats().outbound;
    a.c.send(encodePilpFrame(a.nodeId), cmdA.endpoint.port, cmdA.endpoint.host);
    bb.c.send(encodePilpFrame(bb.nodeId), cmdB.endpoint.port, cmdB.endpoint.host);
    await waitFor(() => a.n.stats().outbound > outA && bb.n.stats().outbound > outB, 3000, 'punch round');
  }
  return { toA: cmdB.endpoint, toB: cmdA.endpoint };
}

const isPilp = (r: { msg: Buffer }): boolean => frameKind(r.msg) === 'PILP';

describe('hole punching through simulated NATs via the beacon', () => {
  const punchable: Array<[NatMapping, NatFiltering]> = [
    ['endpoint-independent', 'endpoint-independent'],
    ['endpoint-independent', 'address-dependent'],
    ['endpoint-independent', 'address-and-port-dependent'],
  ];
  for (const [mapping, filtering] of punchable) {
    it(`succeeds with ${mapping} mapping / ${filtering} filtering on both sides`, async () => {
      const b = await beacon({ beaconId: 1 });
      const a = await behindNat(b, mapping, filtering, NAT_A_IP, 1);
      const bb = await behindNat(b, mapping, filtering, NAT_B_IP, 2);
      const { toA, toB } = await punch(b, a, bb);
      const gotA = await a.inbox.next(isPilp);
      const gotB = await bb.inbox.next(isPilp);
      expect(gotA.rinfo).toEqual({ address: toB.host, port: toB.port });
      expect(gotB.rinfo).toEqual({ address: toA.host, port: toA.port });
      // The hole stays open for direct traffic both ways.
      a.c.send(Buffer.from('PILTdirect-a'), toB.port, toB.host);
      bb.c.send(Buffer.from('PILTdirect-b'), toA.port, toA.host);
      expect((await bb.inbox.next((r) => r.msg.toString() === 'PILTdirect-a')).rinfo.port).toBe(toA.port);
      expect((await a.inbox.next((r) => r.msg.toString() === 'PILTdirect-b')).rinfo.port).toBe(toB.port);
    });
  }

  it('fails between two symmetric NATs, and the beacon relay still connects them', async () => {
    const b = await beacon({ beaconId: 1 });
    const sym: [NatMapping, NatFiltering] = ['address-and-port-dependent', 'address-and-port-dependent'];
    const a = await behindNat(b, ...sym, NAT_A_IP, 1);
    const bb = await behindNat(b, ...sym, NAT_B_IP, 2);
    await punch(b, a, bb);
    // Every punch lands on a mapping that only ever talked to the beacon: all 3 + 3 are filtered.
    await waitFor(
      () => a.n.stats().filtered === 3 && bb.n.stats().filtered === 3,
      3000,
      'all punches filtered',
    );
    expect(a.inbox.count(isPilp)).toBe(0);
    expect(bb.inbox.count(isPilp)).toBe(0);
    // Relay through the beacon uses the mapping the beacon already knows, so it passes both NATs.
    const frame = Buffer.from('PILSrelayed-ciphertext', 'latin1');
    a.c.send(encodeRelay(1, 2, frame), b.address().port, '127.0.0.1');
    const got = await bb.inbox.nextType(BeaconMsgType.RelayDeliver);
    expect(got.msg.readUInt32BE(1)).toBe(1);
    expect(got.msg.subarray(5).equals(frame)).toBe(true);
    expect(b.stats().dropped.relay_spoofed).toBe(0);
  });
});
