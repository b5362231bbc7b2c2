/**
 * Audit 4: `runDaemon` lifecycle. When runDaemon settles, the daemon's process exits (the CLI exits 250 ms
 * later at most), so whatever the node registered or created must be gone by then: after an interrupt during
 * start-up, and after a stop that overran its bound because a service's stop hangs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import type { Deps, Service } from '../../src/coreapi/service.js';
import { defaultConfig, type NodeConfig } from '../../src/node/config.js';
import { runDaemon } from '../../src/node/daemon.js';
import type { PilotNode } from '../../src/node/node.js';
import { RegistryClient, startRegistry } from '../../src/registry/index.js';

async function setup(): Promise<{ dir: string; registry: string; client: RegistryClient }> {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-audit4-'));
  const reg = await startRegistry({ addr: '127.0.0.1:0', logger: silentLogger });
  const { port } = reg.address as { port: number };
  const registry = `127.0.0.1:${port}`;
  const client = new RegistryClient({ addr: registry, logger: silentLogger });
  onTestFinished(async () => {
    client.close();
    await reg.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, registry, client };
}

function config(dir: string, registry: string, over: Partial<NodeConfig> = {}): NodeConfig {
  return {
    ...defaultConfig(dir),
    registry,
    dataDir: join(dir, 'data'),
    socket: join(dir, 'd.sock'),
    logLevel: 'silent',
    public: true,
    ...over,
  };
}

/** True while the registry still knows node `id`. */
async function registered(client: RegistryClient, id: number): Promise<boolean> {
  try {
    await client.lookup(id, { timeoutMs: 2000 });
    return true;
  } catch {
    return false;
  }
}

describe('audit4: runDaemon interrupted during start-up', () => {
  it('leaves the node neither registered nor with an IPC socket once it has rejected', async () => {
    const { dir, registry, client } = await setup();
    let nodeId = 0;
    let release: () => void = () => {};
    let starting: () => void = () => {};
    const inStart = new Promise<void>((r) => (starting = r));
    let stopped = false;
    // A service that is still starting (after the node registered) when the stop request comes.
    const slow: Service = {
      name: 'slow-start',
      order: 900,
      start: (deps: Deps, signal: AbortSignal) =>
        new Promise<void>((resolve) => {
          nodeId = deps.identity.nodeId;
          starting();
          release = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
      stop: () => {
        stopped = true;
      },
    };
    const ac = new AbortController();
    const reason = new Error('interrupted by SIGTERM');
    let ready = false;
    const cfg = config(dir, registry, { hostname: 'audit4-starting' });
    const run = runDaemon(cfg, {
      signal: ac.signal,
      onReady: () => (ready = true),
      node: { logger: silentLogger, trustManager: false, services: [slow] },
    });
    onTestFinished(() => release());
    await inStart;
    expect(nodeId).toBeGreaterThan(0);
    expect(await registered(client, nodeId)).toBe(true);
    const t0 = Date.now();
    ac.abort(reason);
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(ready).toBe(false);
    // Nothing of the node is left behind: the process exits right after this.
    expect(await registered(client, nodeId)).toBe(false);
    expect(existsSync(cfg.socket)).toBe(false);
    expect(stopped).toBe(true);
  }, 15_000);
});

describe('audit4: runDaemon stop that overruns its bound', () => {
  it('still deregisters and removes the IPC socket before it returns', async () => {
    const { dir, registry, client } = await setup();
    let finishStop: () => void = () => {};
    const hang: Service = {
      name: 'hang-stop',
      order: 900,
      start: () => {},
      // Never settles on its own (the registry's stop budget is 5 s).
      stop: () => new Promise<void>((resolve) => (finishStop = resolve)),
    };
    onTestFinished(() => finishStop());
    const ac = new AbortController();
    let node: PilotNode | null = null;
    let ready: () => void = () => {};
    const up = new Promise<void>((r) => (ready = r));
    const cfg = config(dir, registry);
    const run = runDaemon(cfg, {
      signal: ac.signal,
      stopTimeoutMs: 2000,
      onReady: (n) => {
        node = n;
        ready();
      },
      node: { logger: silentLogger, trustManager: false, services: [hang] },
    });
    await up;
    const id = (node as unknown as PilotNode).nodeId;
    expect(existsSync(cfg.socket)).toBe(true);
    expect(await registered(client, id)).toBe(true);
    const t0 = Date.now();
    ac.abort();
    await run;
    const took = Date.now() - t0;
    expect(took).toBeLessThan(3500);
    expect(existsSync(cfg.socket)).toBe(false);
    expect(await registered(client, id)).toBe(false);
  }, 15_000);
});
