/**
 * Editing the daemon's config file (`pilot init` / `pilot config`): values checked as the daemon checks them,
 * one spelling per key, durations kept as written, atomic writes with private modes.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/node/config.js';
import {
  editConfigObject,
  flagSpelling,
  readConfigObject,
  writeConfigObject,
} from '../../src/node/config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'pilot-config-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('config file editing', () => {
  it('sets keys in the flag spelling with typed values, and the daemon reads them back', async () => {
    const obj = editConfigObject(
      {},
      {
        set: {
          registry: '10.0.0.1:9000',
          'log-level': 'debug',
          public: 'yes',
          max_conns_total: '500',
          keepalive: '45s',
          disable: 'echo,webhook',
          'no-encrypt': 'true',
          plugins: '{"webhook":{"queue":10}}',
        },
      },
    );
    expect(obj).toEqual({
      registry: '10.0.0.1:9000',
      'log-level': 'debug',
      public: true,
      'max-conns-total': 500,
      keepalive: '45s',
      disable: ['echo', 'webhook'],
      encrypt: false,
      plugins: { webhook: { queue: 10 } },
    });
    const file = join(dir, 'a', 'config.json');
    await writeConfigObject(file, obj);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700);
    expect(readConfigObject(file)).toEqual(obj);
    const cfg = loadConfig({ file, env: {} });
    expect(cfg).toMatchObject({
      registry: '10.0.0.1:9000',
      logLevel: 'debug',
      public: true,
      maxConnsTotal: 500,
      keepalive: 45_000,
      disable: ['echo', 'webhook'],
      encrypt: false,
    });
  });

  it('keeps an existing spelling and never writes one key twice', () => {
    const obj = editConfigObject(
      { log_level: 'info', logLevel: 'warn', hostname: 'a' },
      { set: { 'log-level': 'error' } },
    );
    expect(obj).toEqual({ log_level: 'error', hostname: 'a' });
    expect(editConfigObject({ 'no-encrypt': true }, { set: { encrypt: 'true' } })).toEqual({ encrypt: true });
  });

  it('unsets keys in any spelling; unknown keys and bad values are typed errors that change nothing', () => {
    const before = { 'idle-timeout': '2m', hostname: 'x' };
    expect(editConfigObject(before, { unset: ['idleTimeout'] })).toEqual({ hostname: 'x' });
    expect(codeOf(() => editConfigObject(before, { set: { bogus: '1' } }))).toBe('ERR_CONFIG_UNKNOWN_KEY');
    expect(codeOf(() => editConfigObject(before, { unset: ['bogus'] }))).toBe('ERR_CONFIG_UNKNOWN_KEY');
    expect(codeOf(() => editConfigObject(before, { set: { 'log-level': 'loud' } }))).toBe(
      'ERR_CONFIG_INVALID',
    );
    expect(codeOf(() => editConfigObject(before, { set: { keepalive: 'soon' } }))).toBe('ERR_CONFIG_INVALID');
    expect(codeOf(() => editConfigObject(before, { set: { plugins: '{nope' } }))).toBe('ERR_CONFIG_INVALID');
    expect(codeOf(() => editConfigObject(before, { set: { listen: 'nowhere' } }))).toBe('ERR_CONFIG_INVALID');
    // Cross-key rule: registry TLS needs a fingerprint.
    expect(codeOf(() => editConfigObject(before, { set: { 'registry-tls': 'true' } }))).toBe(
      'ERR_CONFIG_INVALID',
    );
    expect(before).toEqual({ 'idle-timeout': '2m', hostname: 'x' });
  });

  it('a corrupt file is ERR_CONFIG_FILE, and a missing one reads as empty', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"registry": ');
    expect(codeOf(() => readConfigObject(file))).toBe('ERR_CONFIG_FILE');
    expect(readFileSync(file, 'utf8')).toBe('{"registry": ');
    expect(readConfigObject(join(dir, 'missing.json'))).toEqual({});
  });

  it('spells canonical keys as flags', () => {
    expect(flagSpelling('registryFingerprint')).toBe('registry-fingerprint');
    expect(flagSpelling('listen')).toBe('listen');
  });
});

describe('config file editing: the services’ no-* keys', () => {
  it('--set no-echo=true adds echo to disable, keeping the list and the other keys', () => {
    expect(editConfigObject({}, { set: { 'no-echo': 'true' } })).toEqual({ disable: ['echo'] });
    expect(editConfigObject({ log_level: 'warn', disable: ['webhook'] }, { set: { no_echo: '1' } })).toEqual({
      log_level: 'warn',
      disable: ['webhook', 'echo'],
    });
    // Already disabled: listed once.
    expect(editConfigObject({ disable: ['echo'] }, { set: { noEcho: 'true' } })).toEqual({
      disable: ['echo'],
    });
  });

  it('false and --unset take the service out; a no-* key in the file is folded into disable', () => {
    expect(editConfigObject({ disable: ['echo', 'webhook'] }, { set: { 'no-echo': 'false' } })).toEqual({
      disable: ['webhook'],
    });
    expect(editConfigObject({ disable: ['stdio'] }, { unset: ['no-stdio'] })).toEqual({ disable: [] });
    expect(
      editConfigObject({ no_eventstream: true, disable: ['echo'] }, { set: { 'no-webhook': 'true' } }),
    ).toEqual({ no_eventstream: true, disable: ['echo', 'webhook'] });
    expect(editConfigObject({ 'no-echo': true }, { set: { 'no-echo': 'false' } })).toEqual({ disable: [] });
  });

  it('the daemon reads the result back, and a bad value is refused with the file unchanged', async () => {
    const path = join(dir, 'no-keys.json');
    await writeConfigObject(
      path,
      editConfigObject({}, { set: { 'no-dataexchange': 'true', 'no-echo': 'true' } }),
    );
    const cfg = loadConfig({ file: path, env: {}, flags: {} });
    expect([...cfg.disable].sort()).toEqual(['dataexchange', 'echo']);
    expect(codeOf(() => editConfigObject({}, { set: { 'no-echo': 'maybe' } }))).toBe('ERR_CONFIG_INVALID');
    expect(readConfigObject(path)).toEqual({ disable: ['dataexchange', 'echo'] });
  });
});
