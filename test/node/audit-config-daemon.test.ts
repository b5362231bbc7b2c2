/**
 * Audit: `runDaemon` start-up. The IPC socket is checked before the node joins its registry (a second daemon
 * with the same identity must not re-register the live one's node), and a stop request during start-up ends it
 * at once instead of after the registry's time limit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type NodeConfig } from '../../src/node/config.js';
import { runDaemon } from '../../src/node/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'pilot-audit-daemon-'));

/** A "registry" that accepts TCP connections and never answers; counts them. */
let silent: Server;
let silentAddr = '';
const accepted: Socket[] = [];
let connected: () => void = () => {};

beforeAll(async () => {
  silent = createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    connected();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const a = silent.address() as { port: number };
  silentAddr = `127.0.0.1:${a.port}`;
});

afterAll(async () => {
  for (const s of accepted) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function config(over: Partial<NodeConfig>): NodeConfig {
  return {
    ...defaultConfig(dir),
    registry: silentAddr,
    logLevel: 'silent',
    socket: join(dir, 'd.sock'),
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('audit: runDaemon start-up', () => {
  it('refuses a socket a live daemon answers on before contacting the registry', async () => {
    const socket = join(dir, 'live.sock');
    const live = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => live.listen(socket, resolve));
    const before = accepted.length;
    const started = Date.now();
    let ready = false;
    try {
      const e = await rejection(runDaemon(config({ socket }), { onReady: () => (ready = true) }));
      expect(e.code).toBe('ERR_IPC_SOCKET_IN_USE');
      expect(accepted.length).toBe(before);
      expect(ready).toBe(false);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await new Promise<void>((resolve) => live.close(() => resolve()));
    }
  });

  it('a socket directory that does not exist is a config error before contacting the registry', async () => {
    const before = accepted.length;
    const e = await rejection(runDaemon(config({ socket: join(dir, 'missing', 'd.sock') })));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain('socket');
    expect(accepted.length).toBe(before);
  });

  it('an abort while the node waits for its registry ends start-up at once, without onReady', async () => {
    const ac = new AbortController();
    const reason = new Error('interrupted by SIGINT');
    const seen = new Promise<void>((resolve) => (connected = resolve));
    let ready = false;
    const run = runDaemon(config({ socket: join(dir, 'abort.sock') }), {
      signal: ac.signal,
      onReady: () => (ready = true),
    });
    await seen; // the node is now waiting for the registry's answer
    const t0 = Date.now();
    ac.abort(reason);
    const e = await rejection(run);
    expect(e).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(ready).toBe(false);
  });
});

describe('audit: data directory', () => {
  it('a data directory that is a file is a config error before contacting the registry', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const before = accepted.length;
    const e = await rejection(runDaemon(config({ dataDir: file, socket: join(dir, 'dd.sock') })));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain('dataDir');
    expect(accepted.length).toBe(before);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});
