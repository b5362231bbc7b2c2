/**
 * Audit: `pilot daemon`, `daemon start|stop|status` with a stale pid file, out-of-range flag values, and
 * SIGINT while the daemon is starting (real CLI processes, a silent registry on 127.0.0.1).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, cliBundle, errorEnvelope, runCli, spawnCli, tempDir, until } from '../cli/helpers.js';

const tmp = tempDir('pilot-audit-cli-');

/** A "registry" that accepts connections and never answers. */
let silent: Server;
let silentAddr = '';
const accepted: Socket[] = [];

beforeAll(async () => {
  await cliBundle();
  silent = createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentAddr = `127.0.0.1:${(silent.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const s of accepted) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  tmp.cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function homeFor(name: string): { home: string; env: NodeJS.ProcessEnv; socket: string } {
  const home = join(tmp.dir, name);
  mkdirSync(home, { recursive: true });
  const socket = join(tmp.dir, `${name}.sock`);
  return { home, socket, env: baseEnv({ PILOT_HOME: home, PILOT_SOCKET: socket }) };
}

describe('audit: stale pid file', () => {
  it('daemon stop/status/start leave an unrelated process named by a stale pid file alone', async () => {
    const { home, env } = homeFor('stale');
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const otherExit = new Promise((resolve) => other.on('exit', resolve));
    try {
      const pid = other.pid as number;
      const pidFile = join(home, 'pilot.pid');
      writeFileSync(pidFile, `${pid}\n`);

      const status = await runCli(['--json', 'daemon', 'status'], { env });
      expect(JSON.parse(status.stdout).data).toMatchObject({ running: false, pid: null });

      const stop = await runCli(['--json', 'daemon', 'stop', '--timeout', '1s'], { env });
      expect(errorEnvelope(stop).code).toBe('not_running');
      expect(alive(pid)).toBe(true);
      expect(existsSync(pidFile)).toBe(false);

      // start is not refused as "already running": it spawns its daemon (which fails on a corrupt identity).
      writeFileSync(pidFile, `${pid}\n`);
      const identity = join(home, 'corrupt.key');
      writeFileSync(identity, '{"private_key": 1}', { mode: 0o600 });
      const start = await runCli(
        ['--json', 'daemon', 'start', '--identity', identity, '--registry', silentAddr],
        { env },
      );
      const e = errorEnvelope(start);
      expect(e.code).not.toBe('already_exists');
      expect(e.message).toContain('identity file');
      expect(readFileSync(identity, 'utf8')).toBe('{"private_key": 1}');
      expect(alive(pid)).toBe(true);
    } finally {
      other.kill('SIGKILL');
      await otherExit;
    }
  });
});

describe('audit: flag values', () => {
  it('daemon start --timeout beyond what a timer holds is invalid_argument, and nothing starts', async () => {
    const { home, env } = homeFor('timeout');
    const r = await runCli(['--json', 'daemon', 'start', '--timeout', '600h', '--registry', silentAddr], {
      env,
    });
    expect(errorEnvelope(r).code).toBe('invalid_argument');
    expect(existsSync(join(home, 'pilot.pid'))).toBe(false);
  });

  it('an empty integer flag is invalid_argument', async () => {
    const { env } = homeFor('empty-int');
    const r = await runCli(['--json', 'daemon', '--max-conns-total', '', '--registry', silentAddr], {
      env,
      timeoutMs: 8000,
    });
    expect(errorEnvelope(r).code).toBe('invalid_argument');
  });
});

describe('audit: PILOT_HOME', () => {
  it('daemon start with PILOT_HOME naming a file is invalid_argument (not already_exists)', async () => {
    const file = join(tmp.dir, 'home-file');
    writeFileSync(file, 'x');
    const env = baseEnv({ PILOT_HOME: file, PILOT_SOCKET: join(tmp.dir, 'hf.sock') });
    const r = await runCli(['--json', 'daemon', 'start', '--registry', silentAddr], { env });
    const e = errorEnvelope(r);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toContain(file);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('audit: SIGINT during start-up', () => {
  it('pilot daemon stops at once when interrupted while it waits for its registry', async () => {
    const { env, socket } = homeFor('fg');
    const before = accepted.length;
    const p = await spawnCli(['--json', 'daemon', '--registry', silentAddr, '--socket', socket], { env });
    try {
      await until(async () => accepted.length > before, 10_000, 'the registry connection');
      const t0 = Date.now();
      p.kill('SIGINT');
      const r = await p.done;
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toContain('"status":"ok"');
      expect(errorEnvelope(r).message).toContain('interrupted');
    } finally {
      await p.stop(1000);
    }
  }, 20_000);

  it('daemon start stops its child and removes the pid file when interrupted while waiting', async () => {
    const { home, env, socket } = homeFor('bg');
    const pidFile = join(home, 'pilot.pid');
    const before = accepted.length;
    const p = await spawnCli(['--json', 'daemon', 'start', '--registry', silentAddr, '--socket', socket], {
      env,
    });
    let child = 0;
    try {
      await until(async () => accepted.length > before, 10_000, 'the registry connection');
      child = Number(readFileSync(pidFile, 'utf8'));
      const t0 = Date.now();
      p.kill('SIGINT');
      const r = await p.done;
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r.code).not.toBe(0);
      expect(errorEnvelope(r).message).toContain('interrupted');
      expect(existsSync(pidFile)).toBe(false);
      await until(async () => !alive(child), 3000, 'the child to exit');
    } finally {
      await p.stop(1000);
      if (child > 0 && alive(child)) process.kill(child, 'SIGKILL');
    }
  }, 20_000);
});
