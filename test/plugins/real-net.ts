/**
 * Two real nodes (UDP tunnels on 127.0.0.1, static peer table) and a built-in service started on node B with
 * Deps built like the runtime's. Everything is closed when the test ends.
 */
import { onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import type { Service } from '../../src/coreapi/service.js';
import { createStaticNode, type StaticNode } from '../../src/node/static-node.js';
import { createEventBus, type LocalEventBus } from '../../src/runtime/event-bus.js';
import { PanicGuard } from '../../src/runtime/panic-guard.js';
import { noPeersResolver, startInScope } from './helpers.js';

export interface RealNet {
  a: StaticNode;
  b: StaticNode;
  bus: LocalEventBus;
}

export async function realNet(): Promise<RealNet> {
  const a = await createStaticNode({ nodeId: 101 });
  const b = await createStaticNode({ nodeId: 102 });
  a.addPeer(b.peerEntry());
  b.addPeer(a.peerEntry());
  const bus = createEventBus({ nodeId: 102 });
  onTestFinished(async () => {
    await a.close();
    await b.close();
    bus.close();
  });
  return { a, b, bus };
}

/** Start `service` on node B; stopped when the test ends. */
export async function startOnB<S extends Service>(net: RealNet, service: S): Promise<S> {
  const guard = new PanicGuard({ events: net.bus, logger: silentLogger });
  await startInScope(
    service,
    {
      streams: net.b.streams,
      identity: {
        nodeId: net.b.nodeId,
        address: net.b.addr,
        publicKey: Buffer.from(net.b.identity.publicKey),
        sign: () => Buffer.alloc(64),
      },
      resolver: noPeersResolver,
      events: net.bus,
      logger: silentLogger,
    },
    guard,
  );
  return service;
}
