/**
 * Audit 5: a process plugin started through a wrapper (a shell, `npm start`) or one that spawns helpers: stop
 * and crashes must not leave the real worker running once the plugin's own process is gone.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessService } from '../../src/runtime/process-service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { createTestHost, nextEvent, waitFor, type TestHost } from './helpers.js';
import { ndjsonChild } from './ndjson-child.js';

// Speaks just enough of the protocol; ignores SIGTERM and the end of its stdin (a misbehaving worker).
const STUBBORN = ndjsonChild(
  `if (m.method === 'start') {
      send({ method: 'events.publish', params: { topic: 'audit5.worker', payload: { pid: process.pid } } });
      send({ id: m.id, result: {} });
    } else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });`,
  { prologue: "process.on('SIGTERM', () => {});\nsetInterval(() => {}, 1000);", onEnd: '' },
);

// A well-behaved plugin process that starts a helper of its own which ignores SIGTERM.
const SPAWNER = ndjsonChild(
  `if (m.method === 'start') {
      send({ method: 'events.publish', params: { topic: 'audit5.worker', payload: { pid: helper.pid } } });
      send({ id: m.id, result: {} });
    } else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });`,
  {
    prologue: `import { spawn } from 'node:child_process';
const helper = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], {
  stdio: 'ignore',
});`,
  },
);

let t: TestHost | undefined;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
  await t?.close();
  t = undefined;
});

/** Running (a zombie waiting for its reaper, e.g. a container's PID 1, counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

async function run(
  source: string,
  command: (file: string) => string[],
): Promise<{ registry: ServiceRegistry; svc: ProcessService; pid: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-audit5-pg-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'worker.mjs');
  await writeFile(file, source);
  t = createTestHost();
  const svc = new ProcessService({
    name: 'audit5-worker',
    order: 100,
    command: command(file),
    cwd: dir,
    exitGraceMs: 100,
  });
  const registry = new ServiceRegistry({ logger: t.logger, stopBudgetMs: 2000 });
  registry.register(svc);
  const worker = nextEvent(t.bus, 'audit5.worker');
  await registry.startAll(t.host);
  const pid = (await worker).payload.pid as number;
  // Whatever the outcome, nothing outlives the test.
  cleanups.push(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  cleanups.push(() => registry.stopAll());
  expect(alive(pid)).toBe(true);
  return { registry, svc, pid };
}

describe('process plugin process group', () => {
  it('stop kills a worker behind a shell wrapper that ignores stop, EOF and SIGTERM', async () => {
    const { registry, pid } = await run(STUBBORN, (file) => [
      'sh',
      '-c',
      // `; exit 0` keeps the shell as the parent (no exec): the daemon's child is the shell, not the worker.
      `"${process.execPath}" "${file}"; exit 0`,
    ]);
    await registry.stopAll();
    await waitFor(() => !alive(pid), 3000, 'the wrapped worker to be killed');
  });

  it('stop also ends a helper process the plugin started and left behind', async () => {
    const { registry, svc, pid } = await run(SPAWNER, (file) => [file]);
    const own = svc.pid;
    expect(own).toBeDefined();
    expect(own).not.toBe(pid);
    await registry.stopAll();
    expect(alive(own as number)).toBe(false);
    await waitFor(() => !alive(pid), 3000, 'the helper to be killed');
  });
});
