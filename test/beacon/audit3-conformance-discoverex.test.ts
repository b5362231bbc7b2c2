/**
 * Audit 3, reference §5: "0x08 DiscoverEx — opt-in: this endpoint then gets 0x09 instead of 0x06" and
 * "0x09 RelayDeliverDest — beacon → multi-node endpoint". The opt-in belongs to the UDP endpoint, not to one
 * node ID: every node served at that endpoint gets RelayDeliverDest (src + dest + frame), so the endpoint can
 * tell which of its nodes a relayed frame is for. Raw node:dgram sockets play the reference daemons.
 */
import { describe, expect, it } from 'vitest';
import { BeaconMsgType, type Beacon } from '../../src/beacon/index.js';
import { beacon, udpWithInbox } from './util.js';

type Client = Awaited<ReturnType<typeof udpWithInbox>>;

const FRAME = Buffer.from('PILS-ciphertext-bytes', 'latin1');

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return b;
}

/** Hand-built Discover (0x01) or DiscoverEx (0x08) from `c`; waits for the DiscoverReply (0x02). */
async function discover(b: Beacon, c: Client, type: 0x01 | 0x08, nodeId: number): Promise<void> {
  c.sock.send(Buffer.concat([Buffer.from([type]), u32(nodeId)]), b.address().port, '127.0.0.1');
  const r = await c.inbox.nextType(0x02);
  expect(r.msg.toString('hex')).toBe('02047f000001' + c.port.toString(16).padStart(4, '0'));
}

/** Hand-built Relay (0x05): sender (4) + dest (4) + frame. */
function relay(b: Beacon, c: Client, sender: number, dest: number): void {
  const msg = Buffer.concat([Buffer.from([0x05]), u32(sender), u32(dest), FRAME]);
  c.sock.send(msg, b.address().port, '127.0.0.1');
}

describe('audit3 conformance: DiscoverEx opts the endpoint into RelayDeliverDest', () => {
  it('a second node at a DiscoverEx endpoint (plain Discover) gets 0x09 with its own dest ID', async () => {
    const b = await beacon();
    const x = await udpWithInbox();
    const multi = await udpWithInbox(); // one socket serving nodes 20 and 21
    await discover(b, x, 0x01, 10);
    await discover(b, multi, 0x08, 20);
    await discover(b, multi, 0x01, 21);
    relay(b, x, 10, 21);
    const got = await multi.inbox.next((r) => r.msg[0] >= 0x05 && r.msg[0] <= 0x09);
    expect(got.msg.toString('hex')).toBe('09' + '0000000a' + '00000015' + FRAME.toString('hex'));
    expect(got.rinfo.port).toBe(b.address().port);
    expect(b.stats().sent.relay_deliver_dest).toBe(1);
    expect(b.stats().sent.relay_deliver).toBe(0);
  });

  it('a later plain Discover (keep-alive) from the same endpoint does not undo the opt-in', async () => {
    const b = await beacon();
    const x = await udpWithInbox();
    const y = await udpWithInbox();
    await discover(b, x, 0x01, 10);
    await discover(b, y, 0x08, 20);
    await discover(b, y, 0x01, 20);
    relay(b, x, 10, 20);
    const got = await y.inbox.next((r) => r.msg[0] >= 0x05 && r.msg[0] <= 0x09);
    expect(got.msg.toString('hex')).toBe('09' + '0000000a' + '00000014' + FRAME.toString('hex'));
  });

  it('an endpoint that never sent DiscoverEx still gets RelayDeliver (0x06, sender + frame)', async () => {
    const b = await beacon();
    const x = await udpWithInbox();
    const y = await udpWithInbox();
    const other = await udpWithInbox();
    await discover(b, x, 0x01, 10);
    await discover(b, other, 0x08, 30); // another endpoint's opt-in does not leak to y
    await discover(b, y, 0x01, 20);
    relay(b, x, 10, 20);
    const got = await y.inbox.next((r) => r.msg[0] >= 0x05 && r.msg[0] <= 0x09);
    expect(got.msg.toString('hex')).toBe('06' + '0000000a' + FRAME.toString('hex'));
    expect(BeaconMsgType.RelayDeliver).toBe(0x06);
  });
});
