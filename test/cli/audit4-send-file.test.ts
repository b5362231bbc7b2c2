/**
 * Audit of `pilot send-file` edge cases against one real daemon on loopback (sending to its own node): the
 * 16 MiB frame limit (which holds the file's name too), awkward file names and every byte value (content
 * compared by SHA-256), and plain output without progress-bar control characters when stderr is a pipe.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorEnvelope, okData, runCli, sha256, startLoneDaemon, type LoneDaemon } from './helpers.js';

let d: LoneDaemon;

beforeAll(async () => {
  d = await startLoneDaemon('pilot-audit4-sendfile-');
}, 20_000);

afterAll(async () => {
  await d?.stop();
});
const MAX = 16 * 1024 * 1024;

interface Received {
  files: { name: string; path: string; bytes: number }[];
  total: number;
}

describe('pilot send-file', () => {
  it('the 16 MiB limit counts the name: an over-size file is a clear invalid_argument about the file', async () => {
    const name = 'limit.bin';
    const exact = join(d.dir, name);
    // A file of exactly 16 MiB does not fit with its name: the error names the file's size and the limit.
    writeFileSync(exact, Buffer.alloc(MAX, 7));
    const over = await runCli(['send-file', String(d.nodeId), exact, '--json'], {
      env: d.env,
      timeoutMs: 12_000,
    });
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
      await runCli(['send-file', String(d.nodeId), exact, '--json'], { env: d.env, timeoutMs: 12_000 }),
    );
    expect(ok).toMatchObject({ bytes: fits.length, ack: `ACK FILE ${fits.length} bytes` });
    const rec = okData<Received>(await runCli(['received', '--json'], { env: d.env }));
    const got = rec.files.find((f) => f.name.startsWith('limit-'));
    expect(got?.bytes).toBe(fits.length);
    expect(sha256(readFileSync(got!.path))).toBe(sha256(fits));
    okData(await runCli(['received', '--clear', '--json'], { env: d.env }));
  }, 14_000);

  it('awkward names and every byte value arrive intact; a pipe gets no progress-bar control characters', async () => {
    const content = Buffer.alloc(256 * 64);
    for (let i = 0; i < content.length; i++) content[i] = i % 256;
    const path = join(d.dir, '-a file ü.bin');
    writeFileSync(path, content);
    const r = await runCli(['send-file', String(d.nodeId), path], { env: d.env, timeoutMs: 12_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ACK FILE 16384 bytes \(-a file ü\.bin to /);
    // eslint-disable-next-line no-control-regex
    expect(r.stdout + r.stderr).not.toMatch(/[\x1b\r]/);
    const rec = okData<Received>(await runCli(['received', '--json'], { env: d.env }));
    expect(rec.total).toBe(1);
    expect(rec.files[0].name).toMatch(/^-a file ü-\d{8}-\d{6}\.\d{3}\.bin$/);
    expect(sha256(readFileSync(rec.files[0].path))).toBe(sha256(content));
    okData(await runCli(['received', '--clear', '--json'], { env: d.env }));
  }, 14_000);
});
