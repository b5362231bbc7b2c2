/**
 * `pilot init` and `pilot config`: the config file in $PILOT_HOME that `pilot daemon` reads.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, cliBundle, errorEnvelope, okData, runCli, tempDir } from './helpers.js';

const tmp = tempDir();
const home = join(tmp.dir, 'home');
const file = join(home, 'config.json');
const env = baseEnv({ PILOT_HOME: home, PILOT_SOCKET: join(tmp.dir, 'none.sock') });

beforeAll(async () => {
  await cliBundle();
});
afterAll(() => tmp.cleanup());

describe('pilot init / config', () => {
  it('init writes the file (0600), refuses to overwrite it, and --force starts over', async () => {
    const d = okData(
      await runCli(['--json', 'init', '--registry', '127.0.0.1:9100', '--hostname', 'alpha'], { env }),
    );
    expect(d).toEqual({
      config_path: file,
      registry: '127.0.0.1:9100',
      beacon: null,
      socket: '/tmp/pilot.sock',
      hostname: 'alpha',
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ registry: '127.0.0.1:9100', hostname: 'alpha' });

    const again = await runCli(['--json', 'init'], { env });
    expect(again.code).toBe(1);
    expect(errorEnvelope(again)).toMatchObject({ code: 'already_exists' });
    expect(errorEnvelope(again).hint).toContain('--force');
    expect(JSON.parse(readFileSync(file, 'utf8')).hostname).toBe('alpha');

    const text = await runCli(['init', '--force', '--socket', join(tmp.dir, 'p.sock')], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`wrote ${file}`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ socket: join(tmp.dir, 'p.sock') });
  });

  it('config shows, sets (list values with commas) and unsets keys', async () => {
    const set = okData<{ config: Record<string, unknown>; changed: string[] }>(
      await runCli(
        [
          '--json',
          'config',
          '--set',
          'log-level=debug',
          '--set',
          'disable=echo,webhook',
          '--set',
          'keepalive=45s',
        ],
        { env },
      ),
    );
    expect(set.config).toMatchObject({
      'log-level': 'debug',
      disable: ['echo', 'webhook'],
      keepalive: '45s',
    });
    expect(set.changed).toEqual(['log-level', 'disable', 'keepalive']);
    const unset = okData<{ config: Record<string, unknown> }>(
      await runCli(['--json', 'config', '--unset', 'keepalive'], { env }),
    );
    expect(unset.config).not.toHaveProperty('keepalive');
    const shown = await runCli(['config'], { env });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('log-level = "debug"');
    expect(shown.stdout).toContain('disable = ["echo","webhook"]');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(
      expect.objectContaining({ 'log-level': 'debug', disable: ['echo', 'webhook'] }),
    );
  });

  it('bad keys and values are invalid_argument and leave the file as it was', async () => {
    const before = readFileSync(file, 'utf8');
    for (const args of [
      ['--set', 'bogus=1'],
      ['--set', 'log-level=loud'],
      ['--set', 'listen=nowhere'],
      ['--set', 'registry-tls=true'],
      ['--unset', 'bogus'],
    ]) {
      const r = await runCli(['--json', 'config', ...args], { env });
      expect(r.code, args.join(' ')).toBe(1);
      expect(errorEnvelope(r).code).toBe('invalid_argument');
    }
    const usage = await runCli(['config', '--set', '=x'], { env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('key=value');
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('config without a file reports it missing and creates nothing', async () => {
    const other = baseEnv({ PILOT_HOME: join(tmp.dir, 'empty-home') });
    const d = okData(await runCli(['--json', 'config'], { env: other }));
    expect(d).toMatchObject({ exists: false, config: {}, changed: [] });
    expect(existsSync(join(tmp.dir, 'empty-home'))).toBe(false);
  });
});
