/** Shared helpers for the trust tests: real nodes on loopback, a trust manager per node, event waits. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import type { EventBus } from '../../src/coreapi/events.js';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode, type NodeOptions, type PilotNode } from '../../src/node/node.js';
import {
  createTrustManager,
  type TrustManager,
  type TrustManagerOptions,
} from '../../src/node/trust/index.js';
import { startRegistry, type RegistryServer } from '../../src/registry/index.js';

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pilot-trust-'));
  onTestFinished(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

let seq = 0;

/** A node with its own data dir, no IPC socket, stopped after the test. */
export async function startNode(dir: string, opts: NodeOptions = {}): Promise<PilotNode> {
  const name = `n${++seq}`;
  const n = await createNode({
    logger: silentLogger,
    dataDir: join(dir, name),
    socket: join(dir, `${name}.sock`),
    ipc: false,
    trustManager: false,
    ...opts,
  });
  onTestFinished(() => n.stop());
  return n;
}

/** A first node running the embedded registry, and `count - 1` more nodes joined to it. */
export async function startCluster(count: number, opts: NodeOptions = {}): Promise<PilotNode[]> {
  const dir = tempDir();
  const first = await startNode(dir, {
    embeddedRegistry: '127.0.0.1:0',
    embeddedBeacon: '127.0.0.1:0',
    ...opts,
  });
  const nodes = [first];
  for (let i = 1; i < count; i++) nodes.push(await startNode(dir, { registry: first.registryAddr, ...opts }));
  return nodes;
}

/** A registry on loopback with an admin token (networks), no registration rate limit. */
export async function startAdminRegistry(adminToken: string): Promise<RegistryServer> {
  const r = await startRegistry({ addr: '127.0.0.1:0', adminToken, registrationRateLimit: false });
  onTestFinished(() => r.close());
  return r;
}

export function registryAddr(r: RegistryServer): string {
  const a = r.address as { host: string; port: number };
  return `${a.host}:${a.port}`;
}

/** The manager built from the node's pieces (as the composition wires it); not started. */
export function managerFor(node: PilotNode, opts: Partial<TrustManagerOptions> = {}): TrustManager {
  const m = createTrustManager({
    streams: node.streams,
    identity: node.identity,
    registry: node.registry,
    storePath: null,
    dropPeer: (id) => node.tunnel.removePeer(id),
    invalidatePeer: (id) => node.resolver.invalidate(id),
    events: node.events,
    logger: silentLogger,
    pollIntervalMs: 100,
    // First contact (resolve, key exchange, SYN, write) on a loaded machine; relay tests pass 300.
    directTimeoutMs: 5000,
    ...opts,
  });
  onTestFinished(() => m.stop());
  return m;
}

/** Build and start a manager for `node`. */
export async function startManager(
  node: PilotNode,
  opts: Partial<TrustManagerOptions> = {},
): Promise<TrustManager> {
  const m = managerFor(node, opts);
  await m.start();
  return m;
}

/**
 * Subscribe now and resolve with the payload of the next `topic` event whose payload matches `filter`.
 * Subscribing before the action that causes the event means it cannot be missed.
 */
export function nextBusEvent(
  bus: EventBus,
  topic: string,
  filter: (payload: Record<string, unknown>) => boolean = () => true,
  timeoutMs = 8000,
): Promise<Record<string, unknown>> {
  const ac = new AbortController();
  const sub = bus.subscribe(topic, { signal: ac.signal });
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  return (async () => {
    try {
      for (;;) {
        const e = await sub.next({ signal: ac.signal });
        if (filter(e.payload as Record<string, unknown>)) return e.payload as Record<string, unknown>;
      }
    } catch {
      throw new Error(`timed out after ${timeoutMs} ms waiting for event "${topic}"`);
    } finally {
      clearTimeout(timer);
      sub.unsubscribe();
    }
  })();
}

/** Filter on the peer of a trust event. */
export const fromPeer =
  (id: number) =>
  (p: Record<string, unknown>): boolean =>
    p.peer_node_id === id;
