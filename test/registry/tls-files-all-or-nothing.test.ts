/**
 * Generated TLS files are written whole: each under a temporary name (fsynced), then renamed into place, both or
 * neither. Before, the key was written in place first, so a certificate write that failed (or a crash between the
 * two) left the key alone, and every later start failed with "only one of ... exists" (ERR_REGISTRY_TLS_SETUP).
 * A dangling symlink at the certificate's path makes an in-place write fail after the key was written.
 */
import { mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadOrCreateTls } from '../../src/registry/tls-cert.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-tls-files-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('generated TLS files', () => {
  it('are placed whole (no lone key when the certificate cannot be written in place), mode 0600 for the key', async () => {
    const dir = await tempDir();
    const keyPath = join(dir, 'registry.key');
    const certPath = join(dir, 'registry.pem');
    await symlink(join(dir, 'missing-dir', 'cert.pem'), certPath);
    const m = await loadOrCreateTls(certPath, keyPath);
    expect(await readFile(certPath, 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(await readFile(keyPath, 'utf8')).toContain('PRIVATE KEY');
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateTls(certPath, keyPath)).fingerprint).toBe(m.fingerprint);
    // No temporary files left behind.
    expect((await readdir(dir)).sort()).toEqual(['registry.key', 'registry.pem']);
  });
});
