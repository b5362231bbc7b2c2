/**
 * Audit of the registry's generated TLS files (they fix the fingerprint standbys and clients pin): generating
 * them creates the certificate's directory as well as the key's.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadOrCreateTls } from '../../src/registry/tls-cert.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-audit-tls-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('audit: TLS file generation', () => {
  it('creates the certificate directory as well as the key directory', async () => {
    const dir = await tempDir();
    const certPath = join(dir, 'certs', 'registry.pem');
    const keyPath = join(dir, 'keys', 'registry.key');
    const m = await loadOrCreateTls(certPath, keyPath);
    expect(await exists(certPath)).toBe(true);
    expect(await exists(keyPath)).toBe(true);
    expect((await loadOrCreateTls(certPath, keyPath)).fingerprint).toBe(m.fingerprint);
  });
});
