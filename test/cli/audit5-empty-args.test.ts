/**
 * Empty arguments that would quietly do something else: `set-hostname ""` / `set-webhook ""` (an unset shell
 * variable) would clear the hostname / webhook and report success, and `--data-dir ""` would be the current
 * directory (`inbox --clear` deleting its files). Each is an invalid_argument before anything is touched; a
 * `--data-dir` that is a file is invalid_argument too, not `internal`.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, cliBundle, errorEnvelope, runCli, tempDir } from './helpers.js';

const tmp = tempDir('pilot-a5-empty-');
// No daemon: a command that got as far as the daemon would fail with not_running instead.
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: join(tmp.dir, 'none.sock') });

beforeAll(async () => {
  await cliBundle();
});
afterAll(() => tmp.cleanup());

describe('empty arguments', () => {
  it('set-hostname "" is invalid_argument, pointing at clear-hostname', async () => {
    const e = errorEnvelope(await runCli(['set-hostname', '', '--json'], { env }));
    expect(e.code).toBe('invalid_argument');
    expect(e.hint).toContain('clear-hostname');
    const text = await runCli(['set-hostname', ' '], { env });
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^error: the hostname is empty/m);
  });

  it('set-webhook "" is invalid_argument, pointing at clear-webhook', async () => {
    const e = errorEnvelope(await runCli(['set-webhook', '', '--json'], { env }));
    expect(e.code).toBe('invalid_argument');
    expect(e.hint).toContain('clear-webhook');
  });

  it('inbox / received --data-dir "" is invalid_argument and deletes nothing in the current directory', async () => {
    const cwd = join(tmp.dir, 'cwd');
    mkdirSync(join(cwd, 'inbox'), { recursive: true });
    writeFileSync(
      join(cwd, 'inbox', 'TEXT-00001.json'),
      JSON.stringify({ type: 'TEXT', from: '0:0000.0000.0002', data: 'keep me', bytes: 7, received_at: '' }),
    );
    for (const cmd of ['inbox', 'received']) {
      const e = errorEnvelope(await runCli([cmd, '--data-dir', '', '--clear', '--json'], { env, cwd }));
      expect(e.code).toBe('invalid_argument');
      expect(e.message).toContain('--data-dir');
    }
    expect(readdirSync(join(cwd, 'inbox'))).toEqual(['TEXT-00001.json']);
  });

  it('a --data-dir that is a file is invalid_argument, not internal', async () => {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'x');
    const e = errorEnvelope(await runCli(['inbox', '--data-dir', file, '--json'], { env }));
    expect(e.code).toBe('invalid_argument');
  });
});
