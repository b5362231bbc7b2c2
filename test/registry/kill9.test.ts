/**
 * Crash safety: a registry in a child process takes a burst of writes and is killed with SIGKILL at an arbitrary
 * moment, three times. After every restart the store file is valid and every write acknowledged more than the
 * debounce interval (plus a scheduling margin for a busy machine) before the kill is present.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RegistryClient } from '../../src/registry/index.js';
import { makeIdentity } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/registry-child.ts', import.meta.url));
const DEBOUNCE_MS = 100;
/** Allowance for timer and fsync delays on a loaded machine (a shared CI disk's fsync can stall). */
const MARGIN_MS = 1000;

interface Acked {
  round: number;
  nodeId: number;
  hostname: string;
  key: string;
  at: number;
}

function startChild(store: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, store, String(DEBOUNCE_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('child did not start')), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
}

/** Writers registering fresh nodes with unique hostnames until stopped; acknowledged writes are recorded. */
function burst(port: number, round: number, writers: number, acked: Acked[]): { stop: () => Promise<void> } {
  let running = true;
  const loops = Array.from({ length: writers }, async (_, w) => {
    const client = new RegistryClient({ host: '127.0.0.1', port, reconnectAttempts: 1, timeoutMs: 2000 });
    let i = 0;
    try {
      while (running) {
        const id = makeIdentity();
        const hostname = `r${round}-w${w}-n${i++}`;
        const ans = await client.register({ publicKey: id.publicKey, hostname });
        acked.push({ round, nodeId: ans.node_id, hostname, key: id.publicKeyB64, at: Date.now() });
      }
    } catch {
      // the registry was killed
    } finally {
      client.close();
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every write acknowledged well before the kill of its round must be there. */
async function verify(port: number, acked: Acked[], kills: number[]): Promise<number> {
  const client = new RegistryClient({ host: '127.0.0.1', port, timeoutMs: 5000 });
  try {
    let checked = 0;
    for (const a of acked) {
      const killedAt = kills[a.round];
      if (killedAt === undefined || a.at > killedAt - DEBOUNCE_MS - MARGIN_MS) continue;
      const l = await client.lookup(a.nodeId).catch((e: Error) => {
        throw new Error(`${e.message}: ${a.hostname} acknowledged ${killedAt - a.at} ms before the kill`);
      });
      expect(l.public_key).toBe(a.key);
      expect(l.hostname).toBe(a.hostname);
      checked++;
    }
    return checked;
  } finally {
    client.close();
  }
}

describe('kill -9 during a burst of writes', () => {
  it('keeps the file valid and every acknowledged write older than the debounce', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pilot-kill9-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const store = join(dir, 'registry.json');
    const acked: Acked[] = [];
    const kills: number[] = [];
    for (let round = 0; round < 3; round++) {
      const { child, port } = await startChild(store);
      if (round > 0) expect(await verify(port, acked, kills)).toBeGreaterThan(0);
      const b = burst(port, round, 4, acked);
      await new Promise((r) => setTimeout(r, 1600 + Math.floor(Math.random() * 400)));
      const exited = new Promise((r) => child.once('exit', r));
      kills.push(Date.now());
      child.kill('SIGKILL');
      await exited;
      await b.stop();
      // The file is complete JSON at every moment.
      const parsed = JSON.parse(await readFile(store, 'utf8')) as { nodes: Record<string, unknown> };
      expect(Object.keys(parsed.nodes).length).toBeGreaterThan(0);
    }
    const { child, port } = await startChild(store);
    const checked = await verify(port, acked, kills);
    child.kill('SIGKILL');
    expect(checked).toBeGreaterThan(50);
  }, 30_000);
});
