/**
 * The Streams compliance suite run against the IPC driver: two drivers, each connected over a real Unix
 * socket to an IPC server whose node is on a shared in-memory network.
 */
import { makeAddr } from '../../src/coreapi/addr.js';
import { connect } from '../../src/ipc/connect.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { runStreamsSuite } from '../compliance/streams-suite.js';
import { startDaemon } from './helpers.js';

const BASE = 3000;

async function pair(extensions: boolean) {
  const net = createMemoryNetwork();
  const addrA = makeAddr(1, 0x0a);
  const addrB = makeAddr(1, 0x0b);
  const A = await startDaemon(net, addrA);
  // The suite sends datagrams to BASE + 10 on b.
  const B = await startDaemon(net, addrB, { tapPorts: [BASE + 10] });
  const a = await connect(A.socketPath, { extensions });
  const b = await connect(B.socketPath, { extensions });
  return {
    a,
    b,
    addrA,
    addrB,
    close: async () => {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([A.close(), B.close()]);
      await net.close();
    },
  };
}

runStreamsSuite('ipc driver', () => pair(true), { basePort: BASE });
