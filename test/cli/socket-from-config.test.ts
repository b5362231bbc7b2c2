/**
 * Client commands find the daemon where `pilot daemon` puts it: `--socket`, else PILOT_SOCKET, else the `socket`
 * of $PILOT_HOME/config.json (what `pilot init --socket` writes), else /tmp/pilot.sock.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, cliBundle, errorEnvelope, runCli, tempDir } from './helpers.js';

const tmp = tempDir();
const home = join(tmp.dir, 'home');
const fromFile = join(tmp.dir, 'from-config.sock');

beforeAll(async () => {
  await cliBundle();
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'config.json'), JSON.stringify({ socket: fromFile }));
});
afterAll(() => tmp.cleanup());

describe('the daemon socket of client commands', () => {
  it('is the config file’s socket when neither --socket nor PILOT_SOCKET is given', async () => {
    const r = await runCli(['--json', 'info'], { env: baseEnv({ PILOT_HOME: home }) });
    expect(r.code).toBe(1);
    expect(errorEnvelope(r)).toMatchObject({ code: 'not_running' });
    expect(errorEnvelope(r).message).toContain(fromFile);
  });

  it('PILOT_SOCKET and --socket still come first, in that order', async () => {
    const env = baseEnv({ PILOT_HOME: home, PILOT_SOCKET: join(tmp.dir, 'env.sock') });
    const viaEnv = await runCli(['--json', 'info'], { env });
    expect(errorEnvelope(viaEnv).message).toContain(join(tmp.dir, 'env.sock'));
    const viaFlag = await runCli(['--json', '--socket', join(tmp.dir, 'flag.sock'), 'info'], { env });
    expect(errorEnvelope(viaFlag).message).toContain(join(tmp.dir, 'flag.sock'));
  });

  it('a config file that does not parse is ignored here (the default socket is used)', async () => {
    const other = join(tmp.dir, 'broken-home');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'config.json'), '{ not json');
    const r = await runCli(['--json', 'info'], { env: baseEnv({ PILOT_HOME: other }) });
    // No daemon is expected at /tmp/pilot.sock, but one a developer runs there may answer.
    if (r.code !== 0) {
      expect(errorEnvelope(r)).toMatchObject({ code: 'not_running' });
      expect(errorEnvelope(r).message).toContain('/tmp/pilot.sock');
    }
    expect(r.stderr).not.toContain('SyntaxError');
  });
});
