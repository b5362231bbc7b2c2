/**
 * The identity file (reference §9, conformance §A1 crypto_test.go): creation (0600 file, 0700 dir), reload,
 * corrupt and inconsistent files by code, permission refusal, never replacing a bad file, symlinks, atomic
 * writes, concurrent creation.
 */
import { execFileSync } from 'node:child_process';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PilotError } from '../../../src/coreapi/errors.js';
import {
  decodeIdentityFile,
  encodeIdentityFile,
  loadIdentity,
  loadOrCreateIdentity,
  resolveIdentityPath,
  saveIdentity,
} from '../../../src/transport/identity-file.js';
import { ed25519Sign, ed25519Verify, generateEd25519 } from '../../../src/transport/keys.js';

const POSIX = process.platform !== 'win32';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pilot-identity-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<PilotError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PilotError);
    return err as PilotError;
  }
  throw new Error('expected a PilotError rejection, the promise resolved');
}

const b64 = (n: number, fill = 1) => Buffer.alloc(n, fill).toString('base64');

/** Write `text` as a 0600 file and return its path. */
async function writeIdentityText(text: string, name = 'identity.json'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

function validDoc(): { private_key: string; public_key: string } {
  const kp = generateEd25519();
  return { private_key: kp.privateKey64.toString('base64'), public_key: kp.publicKey.toString('base64') };
}

describe('create and reload', () => {
  it('creates a missing file (and its directories) with mode 0600 in a 0700 directory', async () => {
    const path = join(dir, 'a', 'b', 'identity.json');
    const { keyPair, created } = await loadOrCreateIdentity(path);
    expect(created).toBe(true);
    const st = await stat(path);
    expect(st.isFile()).toBe(true);
    if (POSIX) {
      expect(st.mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'a', 'b'))).mode & 0o777).toBe(0o700);
    }
    const doc = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
    expect(Object.keys(doc).sort()).toEqual(['private_key', 'public_key']);
    expect(Buffer.from(doc.private_key, 'base64').equals(keyPair.privateKey64)).toBe(true);
    expect(Buffer.from(doc.public_key, 'base64').equals(keyPair.publicKey)).toBe(true);
    expect(Buffer.from(doc.private_key, 'base64').length).toBe(64);
    expect(Buffer.from(doc.public_key, 'base64').length).toBe(32);
  });

  it('reloads the same key (created: false), and the key signs', async () => {
    const path = join(dir, 'identity.json');
    const first = await loadOrCreateIdentity(path);
    const second = await loadOrCreateIdentity(path);
    expect(second.created).toBe(false);
    expect(second.keyPair.privateKey64.equals(first.keyPair.privateKey64)).toBe(true);
    const loaded = await loadIdentity(path);
    expect(loaded?.publicKey.equals(first.keyPair.publicKey)).toBe(true);
    const sig = ed25519Sign(second.keyPair, Buffer.from('hello'));
    expect(ed25519Verify(first.keyPair.publicKey, Buffer.from('hello'), sig)).toBe(true);
  });

  it('loadIdentity returns null for a missing file and creates nothing', async () => {
    expect(await loadIdentity(join(dir, 'nope.json'))).toBeNull();
    expect(await loadIdentity(join(dir, 'missing-dir', 'nope.json'))).toBeNull();
    expect(await readdir(dir)).toEqual([]);
  });

  it('saveIdentity then loadIdentity gives the same key; save replaces an existing file', async () => {
    const path = join(dir, 'id', 'identity.json');
    const a = generateEd25519();
    await saveIdentity(path, a);
    expect((await loadIdentity(path))?.privateKey64.equals(a.privateKey64)).toBe(true);
    const b = generateEd25519();
    await saveIdentity(path, b);
    expect((await loadIdentity(path))?.privateKey64.equals(b.privateKey64)).toBe(true);
    if (POSIX) expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('leaves the mode of an existing directory alone', async () => {
    if (!POSIX) return;
    const sub = join(dir, 'shared');
    await mkdir(sub, { mode: 0o755 });
    await chmod(sub, 0o755);
    await loadOrCreateIdentity(join(sub, 'identity.json'));
    expect((await stat(sub)).mode & 0o777).toBe(0o755);
  });

  it('reads a file in the reference (Go) format and keys made by another library', async () => {
    const naclKp = nacl.sign.keyPair();
    const path = await writeIdentityText(
      JSON.stringify({
        private_key: Buffer.from(naclKp.secretKey).toString('base64'),
        public_key: Buffer.from(naclKp.publicKey).toString('base64'),
      }),
    );
    const kp = await loadIdentity(path);
    expect(kp?.publicKey.equals(Buffer.from(naclKp.publicKey))).toBe(true);
    const msg = Buffer.from('interop');
    expect(ed25519Sign(kp!, msg).equals(Buffer.from(nacl.sign.detached(msg, naclKp.secretKey)))).toBe(true);
  });

  it('ignores unknown extra fields', async () => {
    const path = await writeIdentityText(JSON.stringify({ ...validDoc(), comment: 'x' }));
    expect(await loadIdentity(path)).not.toBeNull();
  });

  it('encodeIdentityFile / decodeIdentityFile round-trip', () => {
    const kp = generateEd25519();
    const text = encodeIdentityFile(kp);
    expect(text.endsWith('\n')).toBe(true);
    expect(decodeIdentityFile(text).privateKey64.equals(kp.privateKey64)).toBe(true);
  });
});

describe('corrupt or inconsistent files', () => {
  const other = generateEd25519();
  const cases: Array<[string, () => string, string]> = [
    ['empty file', () => '', 'ERR_IDENTITY_CORRUPT'],
    ['bad JSON', () => '{"private_key": ', 'ERR_IDENTITY_CORRUPT'],
    ['not JSON at all', () => 'hello', 'ERR_IDENTITY_CORRUPT'],
    ['JSON null', () => 'null', 'ERR_IDENTITY_CORRUPT'],
    ['JSON array', () => JSON.stringify([validDoc()]), 'ERR_IDENTITY_CORRUPT'],
    ['JSON string', () => '"abc"', 'ERR_IDENTITY_CORRUPT'],
    [
      'missing private_key',
      () => JSON.stringify({ public_key: validDoc().public_key }),
      'ERR_IDENTITY_CORRUPT',
    ],
    [
      'missing public_key',
      () => JSON.stringify({ private_key: validDoc().private_key }),
      'ERR_IDENTITY_CORRUPT',
    ],
    ['empty object', () => '{}', 'ERR_IDENTITY_CORRUPT'],
    [
      'private_key not a string',
      () => JSON.stringify({ ...validDoc(), private_key: 42 }),
      'ERR_IDENTITY_CORRUPT',
    ],
    ['public_key null', () => JSON.stringify({ ...validDoc(), public_key: null }), 'ERR_IDENTITY_CORRUPT'],
    [
      'private_key with non-base64 characters',
      () => JSON.stringify({ ...validDoc(), private_key: '!!!!' + validDoc().private_key.slice(4) }),
      'ERR_IDENTITY_CORRUPT',
    ],
    [
      'public_key unpadded base64',
      () => JSON.stringify({ ...validDoc(), public_key: validDoc().public_key.replace(/=+$/, '') }),
      'ERR_IDENTITY_CORRUPT',
    ],
    [
      'public_key url-safe base64',
      () => JSON.stringify({ ...validDoc(), public_key: '-_' + validDoc().public_key.slice(2) }),
      'ERR_IDENTITY_CORRUPT',
    ],
    [
      'private_key with embedded whitespace',
      () => {
        const d = validDoc();
        return JSON.stringify({
          ...d,
          private_key: `${d.private_key.slice(0, 8)} ${d.private_key.slice(8)}`,
        });
      },
      'ERR_IDENTITY_CORRUPT',
    ],
    [
      'private_key of 32 bytes (seed only)',
      () => JSON.stringify({ private_key: b64(32), public_key: b64(32) }),
      'ERR_IDENTITY_INVALID_KEY',
    ],
    [
      'private_key of 65 bytes',
      () => JSON.stringify({ private_key: b64(65), public_key: b64(32) }),
      'ERR_IDENTITY_INVALID_KEY',
    ],
    [
      'public_key of 31 bytes',
      () => JSON.stringify({ ...validDoc(), public_key: b64(31) }),
      'ERR_IDENTITY_INVALID_KEY',
    ],
    [
      'empty key strings',
      () => JSON.stringify({ private_key: '', public_key: '' }),
      'ERR_IDENTITY_INVALID_KEY',
    ],
    [
      'public_key of another identity',
      () => JSON.stringify({ ...validDoc(), public_key: other.publicKey.toString('base64') }),
      'ERR_IDENTITY_KEY_MISMATCH',
    ],
    [
      'private_key whose public half does not match its seed',
      () => {
        const kp = generateEd25519();
        return JSON.stringify({
          private_key: Buffer.concat([kp.seed, other.publicKey]).toString('base64'),
          public_key: other.publicKey.toString('base64'),
        });
      },
      'ERR_IDENTITY_KEY_MISMATCH',
    ],
  ];

  it.each(cases)('%s → %s, and the file is left exactly as it was', async (_name, make, code) => {
    const text = make();
    const path = await writeIdentityText(text);
    const before = await stat(path);

    const err = await rejection(loadIdentity(path));
    expect(err.code).toBe(code);
    expect(err.name).toBe('IdentityError');
    expect(err.message).toContain(path);

    // loadOrCreateIdentity must not "repair" it by generating a new key.
    expect((await rejection(loadOrCreateIdentity(path))).code).toBe(code);
    expect(await readFile(path, 'utf8')).toBe(text);
    const after = await stat(path);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(await readdir(dir)).toEqual(['identity.json']);
  });

  it('decodeIdentityFile reports the same codes without touching the disk', () => {
    for (const [, make, code] of cases) {
      let caught: unknown;
      try {
        decodeIdentityFile(make(), 'mem');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PilotError);
      expect((caught as PilotError).code).toBe(code);
    }
  });

  it('an oversized file is ERR_IDENTITY_CORRUPT', async () => {
    const path = await writeIdentityText(`${JSON.stringify(validDoc())}${' '.repeat(100_000)}`);
    expect((await rejection(loadIdentity(path))).code).toBe('ERR_IDENTITY_CORRUPT');
  });

  it('a directory where the file should be is ERR_IDENTITY_IO', async () => {
    const path = join(dir, 'identity.json');
    await mkdir(path);
    expect((await rejection(loadIdentity(path))).code).toBe('ERR_IDENTITY_IO');
    expect((await rejection(loadOrCreateIdentity(path))).code).toBe('ERR_IDENTITY_IO');
    expect((await stat(path)).isDirectory()).toBe(true);
  });

  it('a FIFO in place of the file is ERR_IDENTITY_IO, without hanging', async () => {
    const path = join(dir, 'identity.json');
    try {
      execFileSync('mkfifo', ['-m', '600', path]);
    } catch (err) {
      if (POSIX) throw err;
      return; // no mkfifo on this platform
    }
    expect((await rejection(loadIdentity(path))).code).toBe('ERR_IDENTITY_IO');
    expect((await rejection(loadOrCreateIdentity(path))).code).toBe('ERR_IDENTITY_IO');
  });

  it('a file where the directory should be is ERR_IDENTITY_IO on create', async () => {
    await writeFile(join(dir, 'blocker'), 'x');
    const err = await rejection(loadOrCreateIdentity(join(dir, 'blocker', 'identity.json')));
    expect(err.code).toBe('ERR_IDENTITY_IO');
    expect(err.cause).toBeDefined();
  });
});

describe.runIf(POSIX)('permissions', () => {
  it.each([0o640, 0o604, 0o620, 0o602, 0o660, 0o644, 0o666, 0o700 | 0o070])(
    'refuses mode %o with ERR_IDENTITY_PERMISSIONS and a chmod 600 hint',
    async (mode) => {
      const text = JSON.stringify(validDoc());
      const path = await writeIdentityText(text);
      await chmod(path, mode);
      const err = await rejection(loadIdentity(path));
      expect(err.code).toBe('ERR_IDENTITY_PERMISSIONS');
      expect(err.message).toContain('chmod 600');
      expect(err.details?.hint).toBe(`chmod 600 ${path}`);
      expect((await rejection(loadOrCreateIdentity(path))).code).toBe('ERR_IDENTITY_PERMISSIONS');
      // Not fixed behind the user's back and not replaced.
      expect((await stat(path)).mode & 0o777).toBe(mode);
      expect(await readFile(path, 'utf8')).toBe(text);
    },
  );

  it('accepts 0600 and 0400', async () => {
    const path = await writeIdentityText(JSON.stringify(validDoc()));
    expect(await loadIdentity(path)).not.toBeNull();
    await chmod(path, 0o400);
    expect(await loadIdentity(path)).not.toBeNull();
  });

  it('checks the mode of a symlink target, not of the link', async () => {
    const real = await writeIdentityText(JSON.stringify(validDoc()), 'real.json');
    await chmod(real, 0o644);
    const link = join(dir, 'link.json');
    await symlink(real, link);
    expect((await rejection(loadIdentity(link))).code).toBe('ERR_IDENTITY_PERMISSIONS');
    await chmod(real, 0o600);
    expect(await loadIdentity(link)).not.toBeNull();
  });
});

describe.runIf(POSIX)('symlinks', () => {
  it('loads through a symlink (absolute and relative)', async () => {
    const created = await loadOrCreateIdentity(join(dir, 'real', 'identity.json'));
    await symlink(join(dir, 'real', 'identity.json'), join(dir, 'abs.json'));
    await symlink(join('real', 'identity.json'), join(dir, 'rel.json'));
    for (const name of ['abs.json', 'rel.json']) {
      const kp = await loadIdentity(join(dir, name));
      expect(kp?.publicKey.equals(created.keyPair.publicKey)).toBe(true);
    }
  });

  it('saving through a symlink replaces the target and keeps the link', async () => {
    const real = join(dir, 'real.json');
    const link = join(dir, 'link.json');
    await saveIdentity(real, generateEd25519());
    await symlink('real.json', link);
    const b = generateEd25519();
    await saveIdentity(link, b);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe('real.json');
    expect((await loadIdentity(real))?.privateKey64.equals(b.privateKey64)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['link.json', 'real.json']);
  });

  it('creating through a dangling symlink creates the target', async () => {
    const link = join(dir, 'link.json');
    await symlink(join('keys', 'identity.json'), link);
    const { keyPair, created } = await loadOrCreateIdentity(link);
    expect(created).toBe(true);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    const target = join(dir, 'keys', 'identity.json');
    expect((await loadIdentity(target))?.publicKey.equals(keyPair.publicKey)).toBe(true);
    expect((await stat(target)).mode & 0o777).toBe(0o600);
  });

  it('follows a symlinked directory', async () => {
    await mkdir(join(dir, 'realdir'), { mode: 0o700 });
    await symlink('realdir', join(dir, 'linkdir'));
    const { keyPair } = await loadOrCreateIdentity(join(dir, 'linkdir', 'identity.json'));
    expect(
      (await loadIdentity(join(dir, 'realdir', 'identity.json')))?.publicKey.equals(keyPair.publicKey),
    ).toBe(true);
    expect(await resolveIdentityPath(join(dir, 'linkdir', 'identity.json'))).toBe(
      join(await resolveIdentityPath(dir), 'realdir', 'identity.json'),
    );
  });

  it('a symlink loop is ERR_IDENTITY_IO, not a hang', async () => {
    await symlink('b.json', join(dir, 'a.json'));
    await symlink('a.json', join(dir, 'b.json'));
    expect((await rejection(loadIdentity(join(dir, 'a.json')))).code).toBe('ERR_IDENTITY_IO');
    expect((await rejection(loadOrCreateIdentity(join(dir, 'a.json')))).code).toBe('ERR_IDENTITY_IO');
  });
});

describe('atomic writes and concurrency', () => {
  it('leaves no temp files behind after save and create', async () => {
    const path = join(dir, 'identity.json');
    await loadOrCreateIdentity(path);
    await saveIdentity(path, generateEd25519());
    await saveIdentity(path, generateEd25519());
    expect(await readdir(dir)).toEqual(['identity.json']);
  });

  it('save replaces by rename: a reader holding the old file still sees complete old content', async () => {
    const path = join(dir, 'identity.json');
    const a = generateEd25519();
    await saveIdentity(path, a);
    const inoBefore = (await stat(path)).ino;
    await saveIdentity(path, generateEd25519());
    // A new inode means the old file was never truncated or rewritten in place.
    expect((await stat(path)).ino).not.toBe(inoBefore);
  });

  it('concurrent loadOrCreateIdentity calls on a missing file agree on one key', async () => {
    const path = join(dir, 'sub', 'identity.json');
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(path)));
    const keys = new Set(results.map((r) => r.keyPair.publicKey.toString('hex')));
    expect(keys.size).toBe(1);
    expect(results.filter((r) => r.created).length).toBe(1);
    const onDisk = await loadIdentity(path);
    expect(keys.has(onDisk!.publicKey.toString('hex'))).toBe(true);
    expect(await readdir(join(dir, 'sub'))).toEqual(['identity.json']);
  });

  it('concurrent loads of an existing file all return it', async () => {
    const path = join(dir, 'identity.json');
    const kp = generateEd25519();
    await saveIdentity(path, kp);
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(path)));
    for (const r of results) {
      expect(r.created).toBe(false);
      expect(r.keyPair.privateKey64.equals(kp.privateKey64)).toBe(true);
    }
  });
});
