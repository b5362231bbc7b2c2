import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { loadPlugins, registerPlugins } from '../../src/runtime/plugin-loader.js';
import { ProcessService } from '../../src/runtime/process-service.js';
import { ServiceRegistry } from '../../src/runtime/service-registry.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { readAll } from '../compliance/streams-suite.js';
import { createTestHost, nextEvent, waitFor, type TestHost } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/plugins/', import.meta.url));
const SDK = join(FIXTURES, '_sdk', 'pilot-child.mjs');

let t: TestHost;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await t?.close();
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

async function boot(
  names: string[],
  opts: { config?: Record<string, Record<string, unknown>>; stopBudgetMs?: number; supervise?: boolean } = {},
): Promise<{ registry: ServiceRegistry; supervisor?: Supervisor }> {
  t = createTestHost();
  const result = await loadPlugins({ pluginDirs: names.map((n) => join(FIXTURES, n)), config: opts.config });
  expect(result.rejected).toEqual([]);
  const registry = new ServiceRegistry({ logger: t.logger, stopBudgetMs: opts.stopBudgetMs ?? 3000 });
  registerPlugins(registry, result);
  const supervisor = opts.supervise
    ? new Supervisor(registry, { initialBackoffMs: 5, events: t.bus, logger: t.logger }).start()
    : undefined;
  cleanups.push(async () => {
    supervisor?.stop();
    await registry.stopAll();
  });
  return { registry, ...(supervisor ? { supervisor } : {}) };
}

/** Write `content` to `name` in a fresh temp directory (removed after the test); returns its path. */
async function tempFile(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-proc-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  await writeFile(file, content);
  return file;
}

/** A child script built on the fixture SDK. */
function tempScript(body: string): Promise<string> {
  return tempFile('child.mjs', `import { runPlugin } from ${JSON.stringify(SDK)};\n${body}\n`);
}

describe('process runtime', () => {
  it('runs a child-process plugin that serves streams, datagrams, events, resolver and logs', async () => {
    const { registry } = await boot(['ok-process']);
    const started = nextEvent(t.bus, 'fixture.process.started');
    await registry.startAll(t.host);
    const { payload } = await started;
    expect(payload.nodeId).toBe(0x10);
    const pid = payload.pid as number;
    expect(alive(pid)).toBe(true);
    expect(registry.get('ok-process')).toMatchObject({ state: 'running', origin: 'process' });

    const peer = t.net.node(makeAddr(1, 0x77));
    const s = await peer.dial(t.addr, 7300);
    s.end('hello child');
    expect((await readAll(s)).toString()).toBe('proc:hello child');

    const dgram = nextEvent(t.bus, 'fixture.datagram');
    await peer.sendDatagram(t.addr, 7301, Buffer.from('dg-1'));
    expect((await dgram).payload).toMatchObject({ text: 'dg-1', src: '1:0001.0000.0077' });

    const answer = nextEvent(t.bus, 'fixture.answer');
    t.bus.publish('fixture.ask', { nodeId: 42 });
    expect((await answer).payload).toEqual({ hostname: 'peer42', addr: '1:0001.0000.002A' });
    const missing = nextEvent(t.bus, 'fixture.answer');
    t.bus.publish('fixture.ask', { nodeId: 9999 });
    expect((await missing).payload).toEqual({ code: 'ERR_PEER_NOT_FOUND' });

    expect((await registry.health())['ok-process']).toEqual({ status: 'ok', message: `pid ${pid}` });
    const log = t.logger.records.find((r) => r.msg === 'ok-process listening');
    expect(log?.fields).toMatchObject({ plugin: 'ok-process', port: 7300 });
    expect(registry.get('ok-process')?.resources).toMatchObject({
      listeners: 1,
      datagramSockets: 1,
      subscriptions: 1,
    });

    await registry.stopAll();
    expect(alive(pid)).toBe(false);
    expect(registry.get('ok-process')?.state).toBe('stopped');
    const l = await t.node.listen(7300);
    await l.close();
  });

  it('a crashing child is a failed service that the supervisor restarts; the daemon survives', async () => {
    const { registry, supervisor } = await boot(['crashing-process', 'ok-esm'], { supervise: true });
    const first = nextEvent(t.bus, 'fixture.crashing.started');
    await registry.startAll(t.host);
    const pid1 = (await first).payload.pid as number;
    const failed = nextEvent(t.bus, 'plugin.crashing-process.failed');
    const second = nextEvent(t.bus, 'fixture.crashing.started');
    const restarted = new Promise((res) => supervisor?.once('restarted', res));
    const c = await t.net.node(makeAddr(1, 5)).dial(t.addr, 7400);
    c.on('error', () => {});
    expect((await failed).payload).toMatchObject({ plugin: 'crashing-process', code: 'ERR_PLUGIN_PROCESS' });
    const pid2 = (await second).payload.pid as number;
    await restarted;
    expect(pid2).not.toBe(pid1);
    expect(alive(pid1)).toBe(false);
    expect(registry.get('crashing-process')).toMatchObject({ state: 'running', restarts: 1 });
    expect(registry.get('ok-esm')?.state).toBe('running');
    // The crashed child's stream was reset.
    await waitFor(() => c.destroyed, 5000, 'reset of the crashed child stream');
  });

  it('a child that dies during start fails the start with ERR_PLUGIN_PROCESS', async () => {
    const { registry } = await boot(['crashing-process'], {
      config: { 'crashing-process': { mode: 'on-start' } },
    });
    await expect(registry.startAll(t.host)).rejects.toMatchObject({
      code: 'ERR_SERVICE_START',
      cause: expect.objectContaining({ code: 'ERR_PLUGIN_PROCESS' }),
    });
  });

  it('a command that cannot be spawned fails the start', async () => {
    t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger });
    registry.register(
      new ProcessService({ name: 'ghost', order: 1, command: ['/nonexistent/pilot-plugin-binary'] }),
    );
    cleanups.push(() => registry.stopAll());
    await expect(registry.startAll(t.host)).rejects.toMatchObject({
      cause: expect.objectContaining({ code: 'ERR_PLUGIN_PROCESS' }),
    });
  });

  it('skips malformed lines, reports child panics, and answers ping', async () => {
    const file = await tempScript(`
process.stdout.write('this is not json\\n[1,2]\\n');
runPlugin(() => ({
  start(deps) { deps.tasks.guard('handler', () => { throw new Error('child boom'); })(); },
  stop() {},
}));`);
    t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger });
    const svc = new ProcessService({ name: 'noisy', order: 1, command: [file] });
    registry.register(svc);
    cleanups.push(() => registry.stopAll());
    const panic = nextEvent(t.bus, 'plugin.noisy.panic');
    await registry.startAll(t.host);
    expect((await panic).payload).toMatchObject({ op: 'handler', panic: 'child boom' });
    expect(await svc.ping({ n: 1 })).toEqual({ payload: { n: 1 } });
    const warnings = t.logger.records.filter((r) => r.msg === 'malformed plugin message');
    expect(warnings.map((w) => w.fields.reason)).toEqual(['not JSON', 'not an object']);
    expect(registry.get('noisy')?.state).toBe('running');
  });

  it.skipIf(spawnSync('python3', ['--version']).status !== 0)(
    'runs a plugin written in another language (the Python sketch of the protocol doc)',
    async () => {
      const file = await tempFile(
        'plugin.py',
        [
          'import sys, json',
          'def send(m): sys.stdout.write(json.dumps(m) + "\\n"); sys.stdout.flush()',
          'for line in sys.stdin:',
          '    m = json.loads(line)',
          '    if m.get("method") == "start":  send({"id": m["id"], "result": {}}); send({"method": "log", "params": {"level": "info", "msg": "hi"}})',
          '    elif m.get("method") == "health": send({"id": m["id"], "result": {"status": "ok"}})',
          '    elif m.get("method") == "stop":   send({"id": m["id"], "result": {}})',
          '    elif "id" in m and "method" in m: send({"id": m["id"], "error": {"code": "ERR_PLUGIN_PROTOCOL", "message": "unknown"}})',
          '',
        ].join('\n'),
      );
      t = createTestHost();
      const registry = new ServiceRegistry({ logger: t.logger });
      const svc = new ProcessService({ name: 'python', order: 1, command: ['python3', file] });
      registry.register(svc);
      await registry.startAll(t.host);
      expect((await registry.health()).python).toEqual({ status: 'ok' });
      await expect(svc.ping()).rejects.toMatchObject({ code: 'ERR_PLUGIN_PROTOCOL' });
      await waitFor(() => t.logger.records.some((r) => r.msg === 'hi' && r.fields.plugin === 'python'));
      const pid = svc.pid;
      await registry.stopAll();
      expect(registry.get('python')?.state).toBe('stopped');
      expect(alive(pid)).toBe(false);
    },
  );

  it('kills a child that ignores stop, within the stop budget', async () => {
    const file = await tempScript(
      `runPlugin(() => ({ start() {}, stop() { return new Promise(() => {}); } }));`,
    );
    t = createTestHost();
    const registry = new ServiceRegistry({ logger: t.logger, stopBudgetMs: 200 });
    const svc = new ProcessService({ name: 'stubborn', order: 1, command: [file] });
    registry.register(svc);
    await registry.startAll(t.host);
    const pid = svc.pid;
    expect(alive(pid)).toBe(true);
    await expect(registry.stopAll()).rejects.toMatchObject({
      code: 'ERR_SERVICE_STOP',
      overran: ['stubborn'],
    });
    await waitFor(() => !alive(pid), 5000, 'child killed');
  });

  it('a process plugin that ignores stop, stdin EOF and SIGTERM is SIGKILLed when the stop budget runs out', async () => {
    // A raw protocol child: answers start, never answers stop, ignores EOF on stdin and SIGTERM.
    const file = await tempFile(
      'child.mjs',
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
