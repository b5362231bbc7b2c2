/**
 * Audit of the `pilot` CLI without a running daemon: output that outlives a slow or vanished stdout reader,
 * the --json envelope for a command group given without its subcommand, error codes of `lookup` flags, and
 * durations too long for a timer.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, silentLogger, type RegistryServer } from '../../src/index.js';
import { baseEnv, cliBundle, errorEnvelope, runCli, tempDir } from './helpers.js';

const tmp = tempDir('pilot-audit-out-');
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: join(tmp.dir, 'none.sock') });
let script = '';
let registry: RegistryServer;
let regAddr = '';

/** An inbox with `n` messages of ~1 KiB each, so `pilot inbox --json` prints far more than a pipe buffer. */
function fillInbox(dir: string, n: number): void {
  const inbox = join(dir, 'inbox');
  mkdirSync(inbox, { recursive: true });
  for (let i = 0; i < n; i++) {
    const data = `message-${i}-${'x'.repeat(1000)}`;
    writeFileSync(
      join(inbox, `TEXT-${String(i).padStart(5, '0')}.json`),
      JSON.stringify({
        type: 'TEXT',
        from: '0:0000.0000.0002',
        data,
        bytes: data.length,
        received_at: new Date(1_700_000_000_000 + i).toISOString(),
      }),
    );
  }
}

beforeAll(async () => {
  script = await cliBundle();
  registry = createRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false, logger: silentLogger });
  const a = await registry.listen();
  regAddr = `${a.host}:${a.port}`;
});
afterAll(async () => {
  await registry?.close();
  tmp.cleanup();
});

describe('pilot output and a slow or closed stdout', () => {
  it('a large --json result reaches a reader that is slower than the CLI (no truncation at exit)', async () => {
    const dataDir = join(tmp.dir, 'slow');
    fillInbox(dataDir, 400); // ≈ 480 KB of JSON, several pipe buffers
    const child = spawn(process.execPath, [script, 'inbox', '--json', '--data-dir', dataDir], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    // Do not read stdout yet: the CLI fills the pipe and must wait for us, not exit with its output unsent.
    child.stdout.pause();
    const exitedEarly = await Promise.race([
      once(child, 'exit').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
    ]);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stdout.resume();
    const [code] = await closed;
    const out = Buffer.concat(chunks).toString('utf8');
    expect({ code, stderr, exitedEarly }).toEqual({ code: 0, stderr: '', exitedEarly: false });
    const env1 = JSON.parse(out) as { status: string; data: { total: number; messages: unknown[] } };
    expect(env1.status).toBe('ok');
    expect(env1.data.total).toBe(400);
    expect(env1.data.messages).toHaveLength(400);
  }, 20_000);

  it('a reader that goes away (`pilot context | head -1`) ends the CLI quietly, without a stack trace', async () => {
    const child = spawn(process.execPath, [script, 'context'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Close our end of the pipe before the CLI writes: its writes fail with EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    expect(signal).toBeNull();
    expect(stderr).not.toMatch(/EPIPE|Unhandled 'error' event|\n\s+at /);
    expect(code).toBe(141); // as a pilotctl killed by SIGPIPE: 128 + 13
  }, 20_000);
});

describe('pilot usage errors with --json', () => {
  it('a command group without its subcommand (`pilot plugins --json`) is an error envelope, exit 1', async () => {
    const r = await runCli(['plugins', '--json'], { env });
    const e = errorEnvelope(r);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/plugins/);
    // Only the envelope on stderr, nothing on stdout.
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  }, 20_000);

  it('without --json the group still prints its usage and exits 2', async () => {
    const r = await runCli(['plugins'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: pilot plugins/);
  }, 20_000);

  it('a --timeout too long for a timer is invalid_argument, not an immediate time-out', async () => {
    const r = await runCli(['send', '0:0000.0000.0002', '7', '--data', 'x', '--timeout', '1000h', '--json'], {
      env,
    });
    const e = errorEnvelope(r);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/--timeout.*at most/);
    expect(r.stderr).not.toMatch(/TimeoutOverflowWarning/);
  }, 20_000);
});

describe('pilot lookup flags', () => {
  it('a --registry that is not host:port is invalid_argument (not internal)', async () => {
    const r = await runCli(['lookup', '2', '--registry', 'not-a-host-port', '--json'], { env });
    const e = errorEnvelope(r);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/host:port/);
  }, 20_000);

  it('--timeout 0 means no time limit, as for the other commands (not a time-out after 0 ms)', async () => {
    const r = await runCli(['lookup', '12345', '--registry', regAddr, '--timeout', '0', '--json'], { env });
    const e = errorEnvelope(r);
    expect(e.code).toBe('not_found');
    expect(e.message).toMatch(/12345/);
  }, 20_000);
});
