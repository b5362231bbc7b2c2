/**
 * Audit of `pilot send-file` edge cases against one real daemon on loopback (sending to its own node): the
 * 16 MiB frame limit (which holds the file's name too), awkward file names and every byte value (content
 * compared by SHA-256), and plain output without progress-bar control characters when stderr is a pipe.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
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

const tmp = tempDir('pilot-audit4-sendfile-');
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: join(tmp.dir, 'd.sock') });
let registry: RegistryServer;
let daemon: CliProcess;
let nodeId = 0;

beforeAll(async () => {
  await cliBundle();
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
const MAX = 16 * 1024 * 1024;

interface Received {
  files: { name: string; path: string; bytes: number }[];
  total: number;
}

describe('pilot send-file', () => {
  it('the 16 MiB limit counts the name: an over-size file is a clear invalid_argument about the file', async () => {
    const name = 'limit.bin';
    const exact = join(tmp.dir, name);
    // A file of exactly 16 MiB does not fit with its name: the error names the file's size and the limit.
    writeFileSync(exact, Buffer.alloc(MAX, 7));
    const over = await runCli(['send-file', String(nodeId), exact, '--json'], { env, timeoutMs: 12_000 });
    const e = errorEnvelope(over);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(new RegExp(`^file of ${MAX} bytes exceeds the ${MAX - 2 - name.length}-byte`));
    expect(over.stdout).toBe('');

    // The largest file that fits arrives intact.
    const fits = Buffer.alloc(MAX - 2 - name.length, 9);
    fits[0] = 1;
    fits[fits.length - 1] = 2;
    writeFileSync(exact, fits);
    const ok = okData<{ bytes: number; ack: string }>(
      await runCli(['send-file', String(nodeId), exact, '--json'], { env, timeoutMs: 12_000 }),
    );
    expect(ok).toMatchObject({ bytes: fits.length, ack: `ACK FILE ${fits.length} bytes` });
    const rec = okData<Received>(await runCli(['received', '--json'], { env }));
    const got = rec.files.find((f) => f.name.startsWith('limit-'));
    expect(got?.bytes).toBe(fits.length);
    expect(sha(readFileSync(got!.path))).toBe(sha(fits));
    okData(await runCli(['received', '--clear', '--json'], { env }));
  }, 14_000);

  it('awkward names and every byte value arrive intact; a pipe gets no progress-bar control characters', async () => {
    const content = Buffer.alloc(256 * 64);
    for (let i = 0; i < content.length; i++) content[i] = i % 256;
    const path = join(tmp.dir, '-a file ü.bin');
    writeFileSync(path, content);
    const r = await runCli(['send-file', String(nodeId), path], { env, timeoutMs: 12_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ACK FILE 16384 bytes \(-a file ü\.bin to /);
    // eslint-disable-next-line no-control-regex
    expect(r.stdout + r.stderr).not.toMatch(/[\x1b\r]/);
    const rec = okData<Received>(await runCli(['received', '--json'], { env }));
    expect(rec.total).toBe(1);
    expect(rec.files[0].name).toMatch(/^-a file ü-\d{8}-\d{6}\.\d{3}\.bin$/);
    expect(sha(readFileSync(rec.files[0].path))).toBe(sha(content));
    okData(await runCli(['received', '--clear', '--json'], { env }));
  }, 14_000);
});
