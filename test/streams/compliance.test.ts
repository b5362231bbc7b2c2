import { runStreamsSuite } from '../compliance/streams-suite.js';
import { createStaticNode } from '../../src/node/static-node.js';

runStreamsSuite(
  'udp streams',
  async () => {
    const a = await createStaticNode({
      nodeId: 1,
      streams: { synRatePerSource: 1000, synRateGlobal: 10_000 },
    });
    const b = await createStaticNode({
      nodeId: 2,
      streams: { synRatePerSource: 1000, synRateGlobal: 10_000 },
    });
    a.addPeer(b.peerEntry());
    b.addPeer(a.peerEntry());
    return {
      a: a.streams,
      b: b.streams,
      addrA: a.addr,
      addrB: b.addr,
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  },
  { bigTransferBytes: 16 * 1024 * 1024 },
);
