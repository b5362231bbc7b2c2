import { it } from 'vitest';
import { looksLikeSack } from '../../../src/streams/sack.js';
import type { Packet } from '../../../src/transport/packet.js';
import { faultPair, randomData, transfer } from './fault-helpers.js';
it.each([['bbr',1],['bbr',2],['bbr',3],['bbr',4],['cubic',1],['cubic',2],['cubic',3]] as const)('%s %s', async (cc, seed) => {
  const p = await faultPair({ streams: { pmtuDiscovery: false, congestionControl: cc }, up: { drop: 0.03 }, seed });
  const tx = new Map<number, number>();
  const send = p.a.streams.send.bind(p.a.streams);
  p.a.streams.send = (pk: Packet): void => {
    if (pk.dstPort === 1000 && pk.payload.length > 0 && !looksLikeSack(pk.payload)) tx.set(pk.seq, (tx.get(pk.seq) ?? 0) + 1);
    send(pk);
  };
  const r = await transfer(p, 1000, randomData(2 * 1024 * 1024, 71), { timeoutMs: 15_000 });
  console.log(`EFF ${cc} ${seed}: drops ${p.relay.stats.up.dropped} rtx ${r.sent.stats().retransmits} maxTx ${Math.max(...tx.values())} ms ${r.ms.toFixed(0)}`);
});
