/**
 * Audit: configuration values that used to pass validation and then misbehaved (or failed late, with an
 * untyped error) once the daemon ran.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseDuration } from '../../src/node/config.js';

const dir = mkdtempSync(join(tmpdir(), 'pilot-audit-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(fn: () => unknown): { code?: string; message?: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message?: string };
  }
  return {};
}

function fileWith(name: string, obj: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(obj));
  return file;
}

describe('audit: integer keys', () => {
  it('an empty or blank integer flag is an error, not 0', () => {
    for (const v of ['', ' ', '0x10', '1e3', '+5']) {
      const e = errorOf(() => loadConfig({ env: {}, flags: { 'max-conns-total': v } }));
      expect(e.code, JSON.stringify(v)).toBe('ERR_CONFIG_INVALID');
      expect(e.message).toContain('max-conns-total');
    }
    expect(loadConfig({ env: {}, flags: { 'max-conns-total': '12' } }).maxConnsTotal).toBe(12);
  });

  it('an integer beyond the safe range in the config file is an error', () => {
    const file = fileWith('huge.json', { 'syn-rate-limit': 1e300 });
    expect(errorOf(() => loadConfig({ file, env: {} })).code).toBe('ERR_CONFIG_INVALID');
  });
});

describe('audit: durations', () => {
  it('a duration too long for a timer is an error (setTimeout would fire after 1 ms)', () => {
    for (const v of ['600h', '9'.repeat(400), '25000h', '597h']) {
      expect(errorOf(() => parseDuration(v, 'timeout')).code, v).toBe('ERR_CONFIG_INVALID');
    }
    expect(errorOf(() => parseDuration(1e308, 'timeout')).code).toBe('ERR_CONFIG_INVALID');
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('596h')).toBe(596 * 3_600_000);
  });

  it('keepalive out of the range the node accepts is a config error naming the key, before start', () => {
    for (const v of ['0', '5ms', '48h']) {
      const e = errorOf(() => loadConfig({ env: {}, flags: { keepalive: v } }));
      expect(e.code, v).toBe('ERR_CONFIG_INVALID');
      expect(e.message).toContain('keepalive');
    }
    const file = fileWith('keepalive.json', { keepalive: 0 });
    expect(errorOf(() => loadConfig({ file, env: {} })).code).toBe('ERR_CONFIG_INVALID');
  });

  it('fractional milliseconds are rounded up to whole ones', () => {
    const cfg = loadConfig({ env: {}, flags: { keepalive: '10.5ms', 'idle-timeout': '0.0005' } });
    expect(cfg.keepalive).toBe(11);
    expect(cfg.idleTimeout).toBe(1);
  });
});

describe('audit: socket path', () => {
  it('a socket path longer than a Unix socket address holds is a config error', () => {
    const socket = join(dir, `${'s'.repeat(120)}.sock`);
    const e = errorOf(() => loadConfig({ env: {}, flags: { socket } }));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain('socket');
    const env = { PILOT_SOCKET: socket };
    expect(errorOf(() => loadConfig({ env })).code).toBe('ERR_CONFIG_INVALID');
  });
});

describe('audit: keys and environment', () => {
  it('Object.prototype names are unknown keys, not silently accepted', () => {
    for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const file = join(dir, `proto-${key}.json`);
      writeFileSync(file, `{"${key}": 1}`);
      const e = errorOf(() => loadConfig({ file, env: {} }));
      expect(e.code, key).toBe('ERR_CONFIG_UNKNOWN_KEY');
      expect(e.message).toContain(key);
    }
  });

  it('an empty PILOT_HOME means the default home, not a data directory named ""', () => {
    const cfg = loadConfig({ env: { PILOT_HOME: '' } });
    expect(cfg.dataDir).not.toBe('');
    expect(cfg.dataDir).toBe(loadConfig({ env: {} }).dataDir);
  });
});
