/**
 * The `pilot` command line without a running daemon: parsing, exit codes, the --json envelope, `context`,
 * `plugins`, errors for a missing daemon, bad flags, bad addresses, bad daemon configuration, and `pilot registry`.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, cliBundle, errorEnvelope, okData, runCli, spawnCli, tempDir } from './helpers.js';

const tmp = tempDir();
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: join(tmp.dir, 'none.sock') });

beforeAll(async () => {
  await cliBundle();
});
afterAll(() => tmp.cleanup());

/** Every command of the reference list that this CLI must offer. */
const REQUIRED = [
  'init',
  'config',
  'daemon',
  'daemon start',
  'daemon stop',
  'daemon status',
  'info',
  'peers',
  'connections',
  'ping',
  'bench',
  'send',
  'recv',
  'connect',
  'send-message',
  'send-file',
  'inbox',
  'received',
  'subscribe',
  'publish',
  'find',
  'set-hostname',
  'clear-hostname',
  'set-public',
  'set-private',
  'set-tags',
  'clear-tags',
  'lookup',
  'listen',
  'disconnect',
  'registry',
  'beacon',
  'plugins list',
  'plugins info',
  'context',
  'handshake',
  'approve',
  'reject',
  'untrust',
  'pending',
  'trust',
];

describe('pilot CLI without a daemon', () => {
  it('prints help (exit 0), usage without a command (exit 2)', async () => {
    const help = await runCli(['--help'], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: pilot');
    expect(help.stdout).toContain('send-file');
    const none = await runCli([], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: pilot');
  });

  it('unknown command: usage and exit 2; with --json an invalid_argument envelope and exit 1', async () => {
    const text = await runCli(['frobnicate'], { env });
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/^error: unknown command 'frobnicate'/);
    expect(text.stderr).toContain('Usage: pilot');
    expect(text.stdout).toBe('');
    const json = await runCli(['frobnicate', '--json'], { env });
    expect(errorEnvelope(json).code).toBe('invalid_argument');
    expect(json.stdout).toBe('');
  });

  it('bad flags and arguments: clear error, exit 2 (text) / envelope exit 1 (--json)', async () => {
    const badInt = await runCli(['ping', '1', '--count', 'many'], { env });
    expect(badInt.code).toBe(2);
    expect(badInt.stderr).toContain("'--count <int>' argument 'many' is invalid");
    const unknownFlag = await runCli(['info', '--bogus'], { env });
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("unknown option '--bogus'");
    const missing = await runCli(['--json', 'ping'], { env });
    const e = errorEnvelope(missing);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toContain("missing required argument 'addr'");
    const badDuration = await runCli(['recv', '1000', '--timeout', 'soon', '--json'], { env });
    expect(errorEnvelope(badDuration).code).toBe('invalid_argument');
    const badChoice = await runCli(['send-message', '1', '--data', 'x', '--type', 'xml', '--json'], { env });
    expect(errorEnvelope(badChoice).message).toContain('allowed: text, json, binary');
    const socketNoValue = await runCli(['info', '--socket'], { env });
    expect(socketNoValue.code).toBe(2);
  });

  it('no daemon: not_running with a hint, exit 1', async () => {
    const json = await runCli(['info', '--json'], { env });
    const e = errorEnvelope(json);
    expect(e.code).toBe('not_running');
    expect(e.hint).toContain('pilot daemon start');
    const text = await runCli(['peers'], { env });
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^error: cannot connect to the daemon at .*none\.sock/m);
    expect(text.stderr).toMatch(/^hint: start the daemon/m);
    // --socket wins over PILOT_SOCKET, and is accepted anywhere.
    const other = await runCli(['--socket', join(tmp.dir, 'other.sock'), 'connections', '--json'], { env });
    expect(errorEnvelope(other).message).toContain('other.sock');
  });

  it('bad addresses are invalid_argument before any daemon is needed', async () => {
    for (const addr of ['0:0000.ZZZZ.0001', '1:0000.0000.0001', '99999999999', 'not a host!']) {
      const r = await runCli(['ping', addr, '--json'], { env });
      expect(errorEnvelope(r).code, addr).toBe('invalid_argument');
    }
    const port = await runCli(['send', '1', '70000', '--data', 'x', '--json'], { env });
    expect(errorEnvelope(port).code).toBe('invalid_argument');
  });

  it('daemon status / stop without a daemon', async () => {
    const status = okData<{ running: boolean; responsive: boolean; pid: number | null; pid_file: string }>(
      await runCli(['daemon', 'status', '--json'], { env }),
    );
    expect(status).toMatchObject({ running: false, responsive: false, pid: null });
    expect(status.pid_file).toBe(join(tmp.dir, 'home', 'pilot.pid'));
    const check = await runCli(['daemon', 'status', '--check'], { env });
    expect(check.code).toBe(1);
    expect(check.stdout).toBe('');
    const stop = await runCli(['daemon', 'stop', '--json'], { env });
    expect(errorEnvelope(stop).code).toBe('not_running');
  });

  it('context: a manifest of every command, version 1.2', async () => {
    const m = okData<{
      version: string;
      commands: { name: string; args: unknown[]; flags: { name: string; type: string }[]; returns: object }[];
      error_codes: string[];
    }>(await runCli(['context', '--json'], { env }));
    expect(m.version).toBe('1.2');
    const names = m.commands.map((c) => c.name);
    for (const n of REQUIRED) expect(names, n).toContain(n);
    expect(m.error_codes).toEqual(
      expect.arrayContaining(['invalid_argument', 'not_found', 'not_running', 'timeout']),
    );
    const ping = m.commands.find((c) => c.name === 'ping');
    expect(ping?.flags.map((f) => f.name)).toEqual(expect.arrayContaining(['count', 'interval', 'timeout']));
    expect(Object.keys(ping?.returns ?? {})).toEqual(['target', 'results', 'timeout']);
    const bench = m.commands.find((c) => c.name === 'bench');
    expect(Object.keys(bench?.returns ?? {})).toEqual([
      'target',
      'sent_bytes',
      'recv_bytes',
      'send_duration_ms',
      'total_duration_ms',
      'send_mbps',
      'total_mbps',
    ]);
  });

  it('plugins list / info without a daemon', async () => {
    const list = okData<{ plugins: { name: string; running: boolean | null }[]; daemon: boolean }>(
      await runCli(['plugins', 'list', '--json'], { env }),
    );
    expect(list.daemon).toBe(false);
    expect(list.plugins.map((p) => p.name)).toEqual([
      'webhook',
      'echo',
      'stdio',
      'dataexchange',
      'eventstream',
    ]);
    expect(list.plugins.every((p) => p.running === null)).toBe(true);
    const info = okData<{ name: string; config_schema: { properties: object } }>(
      await runCli(['plugins', 'info', 'echo', '--json'], { env }),
    );
    expect(info.name).toBe('echo');
    expect(Object.keys(info.config_schema.properties)).toContain('port');
    const missing = await runCli(['plugins', 'info', 'nope', '--json'], { env });
    expect(errorEnvelope(missing).code).toBe('not_found');
    const text = await runCli(['plugins', 'list'], { env });
    expect(text.stdout).toMatch(/^NAME\s+DESCRIPTION/);
  });

  it('inbox and received read the local data directory', async () => {
    const inbox = okData<{ messages: unknown[]; total: number }>(await runCli(['inbox', '--json'], { env }));
    expect(inbox).toEqual({ messages: [], total: 0 });
    const cleared = okData<{ cleared: number }>(await runCli(['received', '--clear', '--json'], { env }));
    expect(cleared).toEqual({ cleared: 0 });
  });

  it('bad daemon configuration fails before anything starts', async () => {
    const listen = await runCli(['daemon', 'start', '--listen', 'nonsense', '--json'], { env });
    expect(errorEnvelope(listen)).toMatchObject({ code: 'invalid_argument' });
    expect(errorEnvelope(listen).message).toContain('listen');
    const dur = await runCli(['daemon', '--keepalive', '3x', '--json'], { env });
    expect(errorEnvelope(dur).message).toContain('keepalive');
    const cfgFile = join(tmp.dir, 'bad.json');
    writeFileSync(cfgFile, '{"registry": "127.0.0.1:9000", "colour": "blue"}');
    const unknownKey = await runCli(['daemon', '--config', cfgFile, '--json'], { env });
    expect(errorEnvelope(unknownKey).message).toContain('colour');
    writeFileSync(cfgFile, '{not json');
    const badJson = await runCli(['daemon', 'start', '--config', cfgFile], { env });
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toMatch(/^error: config file .* is not valid JSON/);
    const level = await runCli(['daemon', '--log-level', 'loud'], { env });
    expect(level.code).toBe(2);
  });

  it('an unreachable registry: the daemon exits 1 with connection_failed', async () => {
    // A port that refuses connections: bind, note the port, close.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const r = await runCli(
      [
        'daemon',
        '--registry',
        `127.0.0.1:${port}`,
        '--socket',
        join(tmp.dir, 'unreach.sock'),
        '--log-level',
        'silent',
        '--json',
      ],
      { env, timeoutMs: 40_000 },
    );
    const e = errorEnvelope(r);
    expect(e.code).toBe('connection_failed');
    expect(e.message).toContain(`127.0.0.1:${port}`);
  });

  it('pilot registry: prints its address, stops on SIGTERM with exit 0 (even when signalled at once)', async () => {
    // Several rounds: a SIGTERM sent the moment the address appears once raced the handler (40% of starts).
    for (let i = 0; i < 4; i++) {
      const p = await spawnCli(['registry', '--addr', '127.0.0.1:0', '--log-level', 'silent'], { env });
      const m = await p.waitFor(/registry listening on 127\.0\.0\.1:(\d+)/);
      expect(Number(m[1])).toBeGreaterThan(0);
      const r = await p.stop();
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('registry stopped');
    }
  });

  it('pilot beacon: bad flags exit 2', async () => {
    const r = await runCli(['beacon', '--beacon-id', 'x', '--addr', '127.0.0.1:0'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--beacon-id');
  });
});
