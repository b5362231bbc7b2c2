/**
 * Audit 3: the daemon's configuration as a script written for the reference (§12) gives it. Go flag syntax for
 * booleans (`-encrypt=false`, `-public=true`), the reference's flag names as JSON config keys (`no_echo`), one
 * flag not wiping the file's other settings, `--stdio` really serving port 1000, and PILOT_HOME not beating the
 * config file's `data_dir`. Each test runs a real foreground `pilot daemon` against an in-process registry.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, silentLogger, type RegistryServer } from '../../src/index.js';
import {
  baseEnv,
  cliBundle,
  errorEnvelope,
  okData,
  runCli,
  spawnCli,
  tempDir,
  type CliProcess,
} from './helpers.js';

const tmp = tempDir('pilot-audit3-flags-');
let registry: RegistryServer;
let regAddr = '';
const running: CliProcess[] = [];

beforeAll(async () => {
  await cliBundle();
  registry = createRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false, logger: silentLogger });
  const a = await registry.listen();
  regAddr = `${a.host}:${a.port}`;
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await registry?.close();
  tmp.cleanup();
});

interface Daemon {
  proc: CliProcess;
  env: NodeJS.ProcessEnv;
  home: string;
  nodeId: number;
}

/** A foreground `pilot daemon` with its own home and socket; `file` is written as $PILOT_HOME/config.json. */
async function startDaemon(name: string, args: string[], file?: Record<string, unknown>): Promise<Daemon> {
  const home = join(tmp.dir, name);
  mkdirSync(home, { recursive: true });
  if (file) writeFileSync(join(home, 'config.json'), JSON.stringify(file));
  const env = baseEnv({ PILOT_HOME: home, PILOT_SOCKET: join(tmp.dir, `${name}.sock`) });
  const proc = await spawnCli(
    ['daemon', '--registry', regAddr, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...args, '--json'],
    { env },
  );
  running.push(proc);
  const line = await proc.waitFor(/^\{"status":"ok".*\}$/m, 10_000);
  const ready = JSON.parse(line[0]) as { data: { node_id: number } };
  return { proc, env, home, nodeId: ready.data.node_id };
}

async function services(d: Daemon): Promise<Record<string, string>> {
  const info = okData<{ services: { name: string; state: string }[] }>(
    await runCli(['info', '--json'], { env: d.env }),
  );
  return Object.fromEntries(info.services.map((s) => [s.name, s.state]));
}

describe('audit3: daemon flags and config keys (reference §12)', () => {
  it('--stdio serves port 1000 (it is not also disabled by the --no-stdio spelling of the same flag)', async () => {
    const d = await startDaemon('stdio', ['--stdio']);
    const s = await services(d);
    expect(s.stdio).toBe('running');
    expect(s.echo).toBe('running');
  });

  it('a --no-echo flag adds to the config file’s disabled services instead of replacing them', async () => {
    const d = await startDaemon('merge', ['--no-echo'], { disable: ['eventstream'] });
    const s = await services(d);
    expect(s.echo).toBeUndefined();
    expect(s.eventstream).toBeUndefined();
    expect(s.dataexchange).toBe('running');
  });

  it('the reference’s flag names are config-file keys: no-eventstream, no_webhook, no_dataexchange', async () => {
    // `disable` after `no-eventstream` in the file: the list does not undo the key (order does not matter).
    const d = await startDaemon('keys', [], {
      'no-eventstream': true,
      no_webhook: true,
      disable: ['echo'],
      no_dataexchange: false,
      encrypt: true,
    });
    const s = await services(d);
    expect(s.echo).toBeUndefined();
    expect(s.eventstream).toBeUndefined();
    expect(s.webhook).toBeUndefined();
    expect(s.dataexchange).toBe('running');
  });

  it('Go flag syntax for booleans: -encrypt=false, --public=true, and --public=false beats the file', async () => {
    const a = await startDaemon('gobool', ['-encrypt=false', '--public=true']);
    const info = okData<{ encrypt: boolean }>(await runCli(['info', '--json'], { env: a.env }));
    expect(info.encrypt).toBe(false);
    const rec = okData<{ public: boolean }>(
      await runCli(['lookup', String(a.nodeId), '--registry', regAddr, '--json'], { env: a.env }),
    );
    expect(rec.public).toBe(true);

    const b = await startDaemon('gobool-file', ['--public=false', '--encrypt'], { public: true });
    const recB = okData<{ public: boolean }>(
      await runCli(['lookup', String(b.nodeId), '--registry', regAddr, '--json'], { env: b.env }),
    );
    expect(recB.public).toBe(false);
    const infoB = okData<{ encrypt: boolean }>(await runCli(['info', '--json'], { env: b.env }));
    expect(infoB.encrypt).toBe(true);
  });

  it('a boolean flag with a value that is not a boolean is invalid_argument naming it', async () => {
    const env = baseEnv({
      PILOT_HOME: join(tmp.dir, 'badbool'),
      PILOT_SOCKET: join(tmp.dir, 'badbool.sock'),
    });
    const e = errorEnvelope(await runCli(['daemon', '--public=maybe', '--json'], { env }));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/--public.*boolean|boolean.*--public/);
    const text = await runCli(['daemon', '-registry-tls=yes please'], { env });
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/boolean/);
  });

  it('PILOT_HOME (where the config file is) does not override the file’s data_dir', async () => {
    const dataDir = join(tmp.dir, 'datadir-from-file');
    const d = await startDaemon('home', [], { data_dir: dataDir });
    const sent = await runCli(['send-message', String(d.nodeId), '--data', 'hello', '--json'], {
      env: d.env,
    });
    expect(okData<{ ack: string }>(sent).ack).toMatch(/^ACK TEXT/);
    const inFile = okData<{ total: number }>(
      await runCli(['inbox', '--data-dir', dataDir, '--json'], { env: d.env }),
    );
    expect(inFile.total).toBe(1);
    const inHome = okData<{ total: number }>(
      await runCli(['inbox', '--data-dir', d.home, '--json'], { env: d.env }),
    );
    expect(inHome.total).toBe(0);
  });
});

describe('audit3: bench size argument', () => {
  const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'bench'), PILOT_SOCKET: join(tmp.dir, 'none.sock') });
  it.each(['1e-9', '0x1', '0.0000001', ' ', '1,5'])(
    'bench 1 %j is invalid_argument before any daemon is needed (not a 0-byte run)',
    async (size) => {
      const e = errorEnvelope(await runCli(['bench', '1', size, '--json'], { env }));
      expect(e.code).toBe('invalid_argument');
      expect(e.message).toMatch(/size/);
    },
  );
});
