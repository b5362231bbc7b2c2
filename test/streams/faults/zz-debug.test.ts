import { it } from 'vitest';
import { faultPair, randomData, transfer } from './fault-helpers.js';
import { looksLikeSack } from '../../../src/streams/sack.js';
import type { Packet } from '../../../src/transport/packet.js';
it('tx count per seq', async () => {
  const p = await faultPair({ streams: { pmtuDiscovery: false }, up: { drop: 0.03 }, seed: 3 });
  const tx = new Map<number, number[]>();
  const t0 = performance.now();
  const origS = p.a.streams.send.bind(p.a.streams);
  p.a.streams.send = (pk: Packet) => {
    if (pk.protocol === 1 && pk.dstPort === 1000 && pk.payload.length > 0 && !looksLikeSack(pk.payload)) {
      const a = tx.get(pk.seq) ?? []; a.push(+(performance.now() - t0).toFixed(1)); tx.set(pk.seq, a);
    }
    origS(pk);
  };
  const r = await transfer(p, 1000, randomData(1024 * 1024, 3), { timeoutMs: 15_000 });
  const hist: Record<number, number> = {};
  for (const a of tx.values()) hist[a.length] = (hist[a.length] ?? 0) + 1;
  const worst = [...tx.entries()].sort((x, y) => y[1].length - x[1].length).slice(0, 3);
  console.log('TX ' + JSON.stringify({ drops: p.relay.stats.up.dropped, rtx: r.sent.stats().retransmits, srtt: r.sent.stats().srttMs, hist, worst }));
});
