/**
 * Audit regressions: the start and stop budgets bound every piece of plugin code the registry awaits, and a
 * process plugin that ignores `stop` is killed when the stop budget runs out (not later).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/coreapi/service.js';
import { ProcessService } from '../../src/runtime/process-service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { createTestHost, nextEvent, waitFor, type TestHost } from './helpers.js';

let t: TestHost | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await t?.close();
  t = undefined;
});

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Settles with `p`, or rejects naming `what` if `p` is still pending after `ms` (so a hang fails fast). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_res, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

describe('lifecycle bounds', () => {
  it('a service factory that never resolves fails its start within the start budget', async () => {
    t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger, startBudgetMs: 200, stopBudgetMs: 200 });
    cleanups.push(() => registry.stopAll());
    const log: string[] = [];
    const ok: Service = {
      name: 'first',
      order: 1,
      start: () => void log.push('start first'),
      stop: () => void log.push('stop first'),
    };
    registry.register(ok);
    registry.registerDescriptor({
      name: 'hangs-in-create',
      order: 2,
      // e.g. an esm plugin whose module has a top-level await that never settles
      create: () => new Promise<Service>(() => {}),
    });
    const failed = nextEvent(t.bus, 'plugin.hangs-in-create.failed');
    failed.catch(() => {}); // awaited below; do not let a failing run leave it unhandled
    await expect(within(registry.startAll(t.host), 3000, 'startAll')).rejects.toMatchObject({
      code: 'ERR_SERVICE_START',
      cause: expect.objectContaining({ code: 'ERR_SERVICE_START_TIMEOUT' }),
    });
    expect((await failed).payload).toMatchObject({ code: 'ERR_SERVICE_START_TIMEOUT' });
    expect(registry.get('hangs-in-create')?.state).toBe('failed');
    // The required failure rolled back the service started before it.
    expect(log).toEqual(['start first', 'stop first']);
  });

  it('a process plugin that ignores stop, stdin EOF and SIGTERM is SIGKILLed when the stop budget runs out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pilot-stubborn-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'child.mjs');
    // A raw protocol child: answers start, never answers stop, ignores EOF on stdin and SIGTERM.
    await writeFile(
      file,
      [
        "process.on('SIGTERM', () => {});",
        "let buf = '';",
        "process.stdin.setEncoding('utf8');",
        "process.stdin.on('data', (c) => {",
        '  buf += c;',
        '  let nl;',
        "  while ((nl = buf.indexOf('\\n')) >= 0) {",
        '    const m = JSON.parse(buf.slice(0, nl));',
        '    buf = buf.slice(nl + 1);',
        "    if (m.method === 'start') process.stdout.write(JSON.stringify({ id: m.id, result: {} }) + '\\n');",
        '  }',
        '});',
        "process.stdin.on('end', () => {});",
        'setInterval(() => {}, 1000);',
        '',
      ].join('\n'),
    );
    t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger, stopBudgetMs: 300 });
    // A generous voluntary-exit grace: it must not extend the stop budget.
    const svc = new ProcessService({ name: 'stubborn', order: 1, command: [file], exitGraceMs: 20_000 });
    registry.register(svc);
    await registry.startAll(t.host);
    const pid = svc.pid;
    cleanups.push(async () => {
      if (alive(pid)) process.kill(pid as number, 'SIGKILL');
    });
    expect(alive(pid)).toBe(true);
    await expect(registry.stopAll()).rejects.toMatchObject({
      code: 'ERR_SERVICE_STOP',
      overran: ['stubborn'],
    });
    // SIGKILL was sent when the budget ran out: the child is gone almost at once (not after the grace).
    await waitFor(() => svc.pid === undefined, 3000, 'the stubborn child to be killed');
    expect(alive(pid)).toBe(false);
  });
});
