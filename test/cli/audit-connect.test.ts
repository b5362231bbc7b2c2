/**
 * Audit of `pilot connect` with binary data and a stdout reader slower than the stream: every byte the remote
 * echoes reaches stdout, in order, before the CLI exits. One real daemon on loopback dials its own echo port.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, silentLogger, type RegistryServer } from '../../src/index.js';
import { baseEnv, cliBundle, spawnCli, tempDir, type CliProcess } from './helpers.js';

const tmp = tempDir('pilot-audit-connect-');
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: join(tmp.dir, 'd.sock') });
let script = '';
let registry: RegistryServer;
let daemon: CliProcess;
let nodeId = 0;

beforeAll(async () => {
  script = await cliBundle();
  registry = createRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false, logger: silentLogger });
  const a = await registry.listen();
  daemon = await spawnCli(
    [
      'daemon',
      '--registry',
      `${a.host}:${a.port}`,
      '--listen',
      '127.0.0.1:0',
      '--identity',
      join(tmp.dir, 'identity.json'),
      '--log-level',
      'warn',
      '--json',
    ],
    { env },
  );
  const line = await daemon.waitFor(/^\{"status":"ok".*\}$/m);
  nodeId = (JSON.parse(line[0]) as { data: { node_id: number } }).data.node_id;
}, 20_000);

afterAll(async () => {
  await daemon?.stop();
  await registry?.close();
  tmp.cleanup();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('pilot connect', () => {
  it('binary data through echo reaches a slow stdout reader intact (nothing lost at exit)', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const child = spawn(process.execPath, [script, 'connect', String(nodeId), '7'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    child.stdout.pause(); // a reader that is busy: the CLI must wait for it
    child.stdin.end(data);
    // The echo has long come back by then; a CLI that does not wait for its reader has exited.
    const exitedEarly = await Promise.race([
      once(child, 'exit').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2500).unref()),
    ]);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stdout.resume();
    const [code] = await closed;
    const out = Buffer.concat(chunks);
    expect({ code, exitedEarly }).toEqual({ code: 0, exitedEarly: false });
    expect(stderr).toMatch(/connected to/);
    expect(out.length).toBe(data.length);
    expect(sha(out)).toBe(sha(data));
  }, 20_000);
});
