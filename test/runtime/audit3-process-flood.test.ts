/**
 * Audit 3: a process plugin that floods requests. The host used to read the child's stdout without limit,
 * start an answer for every request at once and queue every answer on the child's stdin even when the child
 * never read it: unbounded memory in the daemon. Now the host answers at most `maxInFlightRequests` requests at
 * once (it stops reading the child's stdout meanwhile: backpressure) and fails a child that leaves more than
 * `maxPendingOutputBytes` unread with ERR_PLUGIN_OVERLOADED. Real child processes throughout.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { NdjsonChannel, type Params } from '../../src/runtime/ndjson-channel.js';
import { ProcessService } from '../../src/runtime/process-service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { createTestHost, nextEvent, waitFor, type TestHost } from './helpers.js';

const SDK = fileURLToPath(new URL('../fixtures/plugins/_sdk/pilot-child.mjs', import.meta.url));

let t: TestHost | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await t?.close();
  t = undefined;
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-audit3-proc-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function script(body: string): Promise<string> {
  const file = join(await tempDir(), 'child.mjs');
  await writeFile(file, body);
  return file;
}

type Child = ChildProcessByStdio<Writable, Readable, null>;

/** Spawn `node file`; killed (and awaited) after the test. */
function spawnChild(file: string): Child {
  const child = spawn(process.execPath, [file], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = once(child, 'exit');
      child.kill('SIGKILL');
      await gone;
    }
  });
  return child;
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Writes N `work` requests at once, then counts the answers on stdin; reports them with a `done` notification.
const FLOOD_AND_READ = (n: number): string => `
import { writeSync } from 'node:fs';
const N = ${n};
let lines = '';
for (let i = 1; i <= N; i++) lines += JSON.stringify({ id: i, method: 'work', params: { i } }) + '\\n';
let answers = 0;
let inOrder = true;
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    answers++;
    if (m.result?.i !== m.id) inOrder = false;
    if (answers === N) writeSync(1, JSON.stringify({ method: 'done', params: { answers, inOrder } }) + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
writeSync(1, lines);
`;

// Writes N requests and never reads its stdin.
const FLOOD_NO_READ = (n: number): string => `
import { writeSync } from 'node:fs';
let lines = '';
for (let i = 1; i <= ${n}; i++) lines += JSON.stringify({ id: i, method: 'work', params: {} }) + '\\n';
try { writeSync(1, lines); } catch {}
setInterval(() => {}, 1000);
`;

describe('audit3: process plugin request floods', () => {
  it('answers at most maxInFlightRequests at once and stops reading the child meanwhile', async () => {
    const N = 2000;
    const LIMIT = 16;
    const child = spawnChild(await script(FLOOD_AND_READ(N)));
    let releaseAll = false;
    const held: (() => void)[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    let calls = 0;
    let done: Params | null = null;
    const channel = new NdjsonChannel({
      input: child.stdout,
      output: child.stdin,
      maxInFlightRequests: LIMIT,
      onRequest: (_method, params) => {
        calls++;
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        return new Promise((resolve) => {
          const release = (): void => {
            concurrent--;
            resolve({ i: params.i });
          };
          if (releaseAll) setImmediate(release);
          else held.push(release);
        });
      },
      onNotification: (method, params) => {
        if (method === 'done') done = params;
      },
    });
    cleanups.push(async () => channel.close(null));
    // The first LIMIT requests are being answered: the host no longer reads the child's stdout.
    await waitFor(() => calls >= LIMIT && child.stdout.isPaused(), 5000, 'the host to stop reading');
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(LIMIT);
    expect(channel.stats).toMatchObject({ inFlightRequests: LIMIT, inputPaused: true });
    // Answers free room: every request is eventually answered, in order, never more than LIMIT at once.
    releaseAll = true;
    for (const release of held.splice(0)) release();
    await waitFor(() => done !== null, 8000, 'all answers to reach the child');
    expect(done).toEqual({ answers: N, inOrder: true });
    expect(calls).toBe(N);
    expect(maxConcurrent).toBeLessThanOrEqual(LIMIT);
    expect(channel.stats).toMatchObject({ inFlightRequests: 0, inputPaused: false });
    expect(channel.stats.pauses).toBeGreaterThan(0);
    const exited = once(child, 'exit');
    child.stdin.end();
    expect((await exited)[0]).toBe(0);
  });

  it('closes with ERR_PLUGIN_OVERLOADED when the child leaves too many answers unread', async () => {
    const child = spawnChild(await script(FLOOD_NO_READ(4000)));
    const closed = new Promise<Error | null>((resolve) => {
      const channel = new NdjsonChannel({
        input: child.stdout,
        output: child.stdin,
        maxPendingOutputBytes: 256 * 1024,
        onRequest: () => ({ pad: 'x'.repeat(1000) }),
        onNotification: () => {},
        onClose: resolve,
      });
      cleanups.push(async () => channel.close(null));
    });
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
    const err = await Promise.race([closed, timeout]);
    expect(err).toMatchObject({ code: 'ERR_PLUGIN_OVERLOADED' });
    expect((err as { details?: { pendingBytes: number } }).details?.pendingBytes).toBeGreaterThan(256 * 1024);
    // Bounded: the host stopped queueing at the limit (plus at most one answer).
    expect(child.stdin.writableLength).toBeLessThan(256 * 1024 + 2048);
  });

  it('a plugin that floods without reading is failed with ERR_PLUGIN_OVERLOADED, killed and restarted', async () => {
    const dir = await tempDir();
    const marker = join(dir, 'flooded');
    // The first instance floods identity.get requests once started and stops reading its stdin; the
    // restarted one (the marker exists) behaves.
    const file = await script(`
import { existsSync, writeFileSync, writeSync } from 'node:fs';
import { runPlugin } from ${JSON.stringify(SDK)};
runPlugin(() => ({
  start(deps) {
    if (existsSync(${JSON.stringify(marker)})) return;
    writeFileSync(${JSON.stringify(marker)}, '');
    deps.events.publish('audit3.flood.started', { pid: process.pid });
    setTimeout(() => {
      process.stdin.pause();
      let lines = '';
      for (let i = 0; i < 1000; i++) lines += JSON.stringify({ id: 1e6 + i, method: 'identity.get', params: {} }) + '\\n';
      try { for (let k = 0; k < 30; k++) writeSync(1, lines); } catch {}
      setInterval(() => {}, 1000); // a paused stdin does not keep the process alive
    }, 10);
  },
  stop() {},
}));`);
    t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger, stopBudgetMs: 3000 });
    const svc = new ProcessService({
      name: 'audit3-flood',
      order: 1,
      command: [file],
      maxPendingOutputBytes: 256 * 1024,
    });
    registry.register(svc);
    const supervisor = new Supervisor(registry, {
      initialBackoffMs: 5,
      events: t.bus,
      logger: t.logger,
    }).start();
    cleanups.push(async () => {
      supervisor.stop();
      await registry.stopAll();
    });
    const started = nextEvent(t.bus, 'audit3.flood.started');
    const failed = nextEvent(t.bus, 'plugin.audit3-flood.failed', 8000);
    const restarted = new Promise((res) => supervisor.once('restarted', res));
    await registry.startAll(t.host);
    const pid = (await started).payload.pid as number;
    expect((await failed).payload).toMatchObject({ code: 'ERR_PLUGIN_OVERLOADED' });
    await waitFor(() => !alive(pid), 5000, 'the flooding child to be killed');
    await restarted;
    expect(existsSync(marker)).toBe(true);
    expect(registry.get('audit3-flood')).toMatchObject({ state: 'running', restarts: 1 });
    expect(await svc.ping('still there')).toEqual({ payload: 'still there' });
  });

  it('stream data for a child that stops reading is paused, not buffered (host → child stays bounded)', async () => {
    // Listens on port 7400, then never reads its stdin again.
    const file = await script(`
import { writeSync } from 'node:fs';
let buf = '';
process.stdin.setEncoding('utf8');
const onData = (chunk) => {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    if (m.method === 'start') writeSync(1, JSON.stringify({ id: 1, method: 'streams.listen', params: { port: 7400 } }) + '\\n');
    else if (m.id === 1 && m.result) {
      writeSync(1, JSON.stringify({ id: 1, result: {} }) + '\\n');
      process.stdin.off('data', onData);
      process.stdin.pause();
    }
  }
};
process.stdin.on('data', onData);
setInterval(() => {}, 1000);
`);
    t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger, stopBudgetMs: 2000 });
    const svc = new ProcessService({ name: 'audit3-deaf', order: 1, command: [file], exitGraceMs: 100 });
    registry.register(svc);
    cleanups.push(async () => {
      // It would answer neither `stop` nor stdin EOF: kill it rather than wait out the stop budget.
      if (svc.pid) process.kill(svc.pid, 'SIGKILL');
      await registry.stopAll();
    });
    await registry.startAll(t.host);
    const s = await t.net.node(makeAddr(1, 0x99)).dial(t.addr, 7400);
    cleanups.push(async () => {
      s.destroy();
    });
    const piece = Buffer.alloc(64 * 1024, 0x61);
    const TOTAL = 32 * 1024 * 1024;
    let written = 0;
    let stop = false;
    // A peer writing as fast as the stream lets it (up to 32 MiB) to the deaf plugin.
    const writer = (async () => {
      while (!stop && written < TOTAL && !s.destroyed) {
        written += piece.length;
        if (!s.write(piece)) await Promise.race([once(s, 'drain'), once(s, 'close')]);
      }
    })();
    cleanups.push(async () => {
      stop = true;
      s.destroy();
      await writer.catch(() => {});
    });
    // The child's pipe is full once the host has to queue data for it.
    await waitFor(() => (svc.channelStats?.pendingOutputBytes ?? 0) > 0, 5000, 'data queued for the child');
    // The host paused the stream: it holds a few chunks for the deaf child, the peer is pushed back.
    expect(svc.channelStats?.pendingOutputBytes).toBeLessThan(4 * 1024 * 1024);
    expect(written).toBeLessThan(TOTAL);
    expect(registry.get('audit3-deaf')?.state).toBe('running');
  });
});
