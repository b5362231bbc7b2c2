/**
 * Audit 6: configuration values that passed validation and then misbehaved at run time.
 * - A webhook that is not an http(s) URL: the daemon started and the webhook service failed (events lost).
 * - One setting given twice in one source under two spellings (`log-level` and `log_level`, `encrypt` and
 *   `no-encrypt`): the key order silently decided which one won.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { loadConfig } from '../../src/node/config.js';
import { editConfigObject } from '../../src/node/config-file.js';
import { createNode } from '../../src/node/node.js';

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pilot-audit6-cfg-'));
  onTestFinished(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('audit6: webhook URL', () => {
  it('a webhook that is not an http(s) URL is ERR_CONFIG_INVALID naming the key', () => {
    for (const bad of ['not a url', 'localhost:8080/hook', 'ftp://example.com/x', 'file:///etc/passwd']) {
      let err: unknown;
      try {
        loadConfig({ flags: { webhook: bad }, env: {} });
      } catch (e) {
        err = e;
      }
      expect(err, bad).toMatchObject({ code: 'ERR_CONFIG_INVALID', details: { key: 'webhook' } });
    }
    expect(loadConfig({ flags: { webhook: 'http://127.0.0.1:8080/hook' }, env: {} }).webhook).toBe(
      'http://127.0.0.1:8080/hook',
    );
    expect(loadConfig({ flags: { webhook: 'https://example.com/h' }, env: {} }).webhook).toBe(
      'https://example.com/h',
    );
  });

  it('pilot config --set refuses it, and createNode rejects it before binding anything', async () => {
    expect(() => editConfigObject({}, { set: { webhook: 'localhost:9/x' } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
    const dir = tempDir();
    await expect(
      createNode({
        logger: silentLogger,
        dataDir: join(dir, 'n'),
        ipc: false,
        trustManager: false,
        embeddedRegistry: '127.0.0.1:0',
        embeddedBeacon: '127.0.0.1:0',
        webhook: 'localhost:9/x',
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
});

describe('audit6: one setting under two spellings', () => {
  it('a config file naming one key twice with different values is ERR_CONFIG_INVALID', () => {
    const dir = tempDir();
    const cases: Record<string, unknown>[] = [
      { 'log-level': 'debug', log_level: 'error' },
      { logLevel: 'debug', 'log-level': 'warn' },
      { encrypt: true, 'no-encrypt': true },
      { 'no-encrypt': false, encrypt: false },
    ];
    for (const obj of cases) {
      const file = join(dir, 'c.json');
      writeFileSync(file, JSON.stringify(obj));
      let err: unknown;
      try {
        loadConfig({ file, env: {} });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(obj)).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    }
  });

  it('the same value under two spellings, and flags over the file, are still fine', () => {
    const dir = tempDir();
    const file = join(dir, 'c.json');
    writeFileSync(
      file,
      JSON.stringify({ 'log-level': 'debug', log_level: 'debug', encrypt: false, 'no-encrypt': true }),
    );
    const cfg = loadConfig({ file, env: {}, flags: { 'log-level': 'warn' } });
    expect(cfg.logLevel).toBe('warn');
    expect(cfg.encrypt).toBe(false);
  });
});

describe('audit6: idle timeout of zero', () => {
  it('is ERR_CONFIG_INVALID (it reset every connection, even busy ones, at the next sweep)', () => {
    for (const v of ['0', '0s', '0ms']) {
      let err: unknown;
      try {
        loadConfig({ flags: { 'idle-timeout': v }, env: {} });
      } catch (e) {
        err = e;
      }
      expect(err, v).toMatchObject({ code: 'ERR_CONFIG_INVALID', details: { key: 'idleTimeout' } });
    }
    expect(() => editConfigObject({}, { set: { 'idle-timeout': '0' } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
    expect(loadConfig({ flags: { 'idle-timeout': '2m' }, env: {} }).idleTimeout).toBe(120_000);
  });
});
