/**
 * The node identity file: `{"private_key": b64(64 bytes), "public_key": b64(32 bytes)}`.
 *
 * `private_key` is Go's 64-byte Ed25519 private key (seed ‖ public key), `public_key` the raw 32-byte public key,
 * both standard padded base64, as the reference daemon writes them, so identity files move freely between the two.
 *
 * Contract:
 * - Symlinks are resolved: loading reads the target, saving replaces the target (the link stays a link).
 * - Loading refuses a file that group or others can read or write (`ERR_IDENTITY_PERMISSIONS`; fix: `chmod 600`).
 *   The mode is checked on the opened descriptor, so it is the file actually read.
 * - Loading checks everything: JSON shape and base64 (`ERR_IDENTITY_CORRUPT`), key sizes (`ERR_IDENTITY_INVALID_KEY`),
 *   and that the seed, the public half of `private_key` and `public_key` all agree (`ERR_IDENTITY_KEY_MISMATCH`).
 *   A bad file is reported, never replaced.
 * - {@link loadIdentity} returns `null` when the file does not exist (the reference's LoadIdentity returns nil);
 *   every other failure throws an {@link IdentityError}. I/O failures are `ERR_IDENTITY_IO` with the system error
 *   as `cause`.
 * - Writing is atomic: a temp file in the same directory (mode 0600, fsynced), then rename (or, when creating, a
 *   hard link that fails if the file already exists), then an fsync of the directory. A missing directory is
 *   created with mode 0700; an existing directory is left as it is.
 * - {@link loadOrCreateIdentity} never overwrites: when several processes create the same missing file at once,
 *   exactly one key wins and every caller returns that key.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readlink, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { errnoOf, syncDir, writeFileAtomic, writeTempFile } from './atomic-file.js';
import { IdentityError } from './errors.js';
import { ed25519FromPrivate64, generateEd25519, type Ed25519KeyPair } from './keys.js';

type IdentityErrorCode = ConstructorParameters<typeof IdentityError>[0];

/** Result of {@link loadOrCreateIdentity}. */
export interface LoadedIdentity {
  keyPair: Ed25519KeyPair;
  /** True when the file did not exist and this call created it. */
  created: boolean;
}

/** An identity file is a few hundred bytes; anything much larger is not one. */
const MAX_FILE_SIZE = 64 * 1024;
const MAX_SYMLINK_HOPS = 40;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const CHECK_PERMISSIONS = process.platform !== 'win32';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function ioError(what: string, path: string, err: unknown): IdentityError {
  const reason = err instanceof Error ? err.message : String(err);
  return new IdentityError('ERR_IDENTITY_IO', `identity file ${path}: cannot ${what}: ${reason}`, {
    cause: err,
    details: { path, errno: errnoOf(err) },
  });
}

/**
 * The file a path finally names: symlinks followed (also dangling ones, so a save creates the link's target).
 * Relative paths resolve against the working directory.
 */
export async function resolveIdentityPath(path: string): Promise<string> {
  let current = resolve(path);
  for (let hop = 0; hop < MAX_SYMLINK_HOPS; hop++) {
    try {
      return await realpath(current);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw ioError('resolve path', path, err);
    }
    // The file (or a directory above it) does not exist. Follow a dangling link by hand; otherwise resolve
    // the parent so that the returned path is canonical as far as it exists.
    let st: Stats;
    try {
      st = await lstat(current);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw ioError('resolve path', path, err);
      const parent = dirname(current);
      if (parent === current) return current;
      return join(await resolveIdentityPath(parent), basename(current));
    }
    if (!st.isSymbolicLink()) return current;
    let target: string;
    try {
      target = await readlink(current);
    } catch (err) {
      throw ioError('read symlink', path, err);
    }
    current = isAbsolute(target) ? target : resolve(dirname(current), target);
  }
  throw new IdentityError('ERR_IDENTITY_IO', `identity file ${path}: too many levels of symbolic links`, {
    details: { path },
  });
}

function decodeBase64Field(value: unknown, field: string, path: string): Buffer {
  if (typeof value !== 'string') {
    throw new IdentityError(
      'ERR_IDENTITY_CORRUPT',
      `identity file ${path}: field "${field}" is ${value === undefined ? 'missing' : 'not a string'}`,
      { details: { path, field } },
    );
  }
  if (!BASE64.test(value)) {
    throw new IdentityError(
      'ERR_IDENTITY_CORRUPT',
      `identity file ${path}: field "${field}" is not valid base64`,
      { details: { path, field } },
    );
  }
  return Buffer.from(value, 'base64');
}

/**
 * Parse the JSON text of an identity file and check the keys. `path` only labels error messages.
 * Throws ERR_IDENTITY_CORRUPT, ERR_IDENTITY_INVALID_KEY or ERR_IDENTITY_KEY_MISMATCH.
 */
export function decodeIdentityFile(text: string, path = '<identity>'): Ed25519KeyPair {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new IdentityError('ERR_IDENTITY_CORRUPT', `identity file ${path}: not valid JSON`, {
      cause: err,
      details: { path },
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new IdentityError('ERR_IDENTITY_CORRUPT', `identity file ${path}: expected a JSON object`, {
      details: { path },
    });
  }
  const record = doc as Record<string, unknown>;
  const priv = decodeBase64Field(record.private_key, 'private_key', path);
  const pub = decodeBase64Field(record.public_key, 'public_key', path);
  if (priv.length !== 64) {
    throw new IdentityError(
      'ERR_IDENTITY_INVALID_KEY',
      `identity file ${path}: private_key must be 64 bytes (seed ‖ public key), got ${priv.length}`,
      { details: { path, field: 'private_key', size: priv.length } },
    );
  }
  if (pub.length !== 32) {
    throw new IdentityError(
      'ERR_IDENTITY_INVALID_KEY',
      `identity file ${path}: public_key must be 32 bytes, got ${pub.length}`,
      { details: { path, field: 'public_key', size: pub.length } },
    );
  }
  let kp: Ed25519KeyPair;
  try {
    kp = ed25519FromPrivate64(priv);
  } catch (err) {
    if (err instanceof IdentityError) {
      throw new IdentityError(err.code as IdentityErrorCode, `identity file ${path}: ${err.message}`, {
        cause: err,
        details: { path },
      });
    }
    throw new IdentityError('ERR_IDENTITY_INVALID_KEY', `identity file ${path}: unusable private key`, {
      cause: err,
      details: { path },
    });
  }
  if (!kp.publicKey.equals(pub)) {
    throw new IdentityError(
      'ERR_IDENTITY_KEY_MISMATCH',
      `identity file ${path}: public_key does not match private_key`,
      { details: { path } },
    );
  }
  return kp;
}

/** The JSON text of an identity file for `keyPair` (2-space indent, trailing newline). */
export function encodeIdentityFile(keyPair: Ed25519KeyPair): string {
  const doc = {
    private_key: keyPair.privateKey64.toString('base64'),
    public_key: keyPair.publicKey.toString('base64'),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

async function readIdentityFile(target: string, path: string): Promise<Ed25519KeyPair | null> {
  let handle;
  try {
    // O_NONBLOCK: a FIFO in place of the file must fail the regular-file check below, not hang the open.
    handle = await open(
      target,
      fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0),
    );
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
    throw ioError('open', path, err);
  }
  try {
    let st: Stats;
    let data: Buffer;
    try {
      st = await handle.stat();
      if (!st.isFile()) {
        throw new IdentityError('ERR_IDENTITY_IO', `identity file ${path}: not a regular file`, {
          details: { path },
        });
      }
      if (CHECK_PERMISSIONS && (st.mode & 0o077) !== 0) {
        const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
        throw new IdentityError(
          'ERR_IDENTITY_PERMISSIONS',
          `identity file ${path} has mode ${mode}: group or others can access the private key; ` +
            `fix it with: chmod 600 ${target}`,
          { details: { path: target, mode, hint: `chmod 600 ${target}` } },
        );
      }
      if (st.size > MAX_FILE_SIZE) {
        throw new IdentityError(
          'ERR_IDENTITY_CORRUPT',
          `identity file ${path}: ${st.size} bytes is too large to be an identity file`,
          { details: { path, size: st.size } },
        );
      }
      data = await handle.readFile();
    } catch (err) {
      if (err instanceof IdentityError) throw err;
      throw ioError('read', path, err);
    }
    return decodeIdentityFile(data.toString('utf8'), path);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Load the identity at `path`. Returns `null` when the file does not exist; throws an {@link IdentityError}
 * for a file that is unreadable, too permissive, corrupt or inconsistent.
 */
export async function loadIdentity(path: string): Promise<Ed25519KeyPair | null> {
  const target = await resolveIdentityPath(path);
  return readIdentityFile(target, path);
}

/** Create the directory (0700) when missing; an existing directory keeps its mode. */
async function ensureDir(dir: string, path: string): Promise<void> {
  try {
    const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    // mkdir's mode is filtered by the umask; make the created leaf exactly 0700.
    if (first !== undefined && CHECK_PERMISSIONS) await chmod(dir, DIR_MODE);
  } catch (err) {
    throw ioError('create directory', path, err);
  }
}

/**
 * Save `keyPair` to `path` atomically (temp file + fsync + rename), replacing any existing file.
 * The file gets mode 0600; a missing directory is created with mode 0700.
 */
export async function saveIdentity(path: string, keyPair: Ed25519KeyPair): Promise<void> {
  const target = await resolveIdentityPath(path);
  const dir = dirname(target);
  await ensureDir(dir, path);
  await writeFileAtomic(target, encodeIdentityFile(keyPair), FILE_MODE, (step, err) =>
    ioError(step, path, err),
  );
}

/**
 * Publish a new identity only if none exists: the fully written temp file is hard-linked into place, which fails
 * when the file appeared meanwhile. Returns false when another writer got there first.
 */
async function createExclusive(target: string, keyPair: Ed25519KeyPair, path: string): Promise<boolean> {
  const dir = dirname(target);
  await ensureDir(dir, path);
  const tmp = await writeTempFile(target, encodeIdentityFile(keyPair), FILE_MODE, (step, err) =>
    ioError(step, path, err),
  );
  try {
    await link(tmp, target);
    await syncDir(dir);
    return true;
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      // No hard links on this file system: fall back to rename, guarded by an existence check.
      const exists = await lstat(target).then(
        () => true,
        () => false,
      );
      if (exists) return false;
      try {
        await rename(tmp, target);
      } catch (renameErr) {
        throw ioError('create', path, renameErr);
      }
      await syncDir(dir);
      return true;
    }
    throw ioError('create', path, err);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Load the identity at `path`, or generate and save a new one when the file does not exist.
 * An existing file is never replaced: a bad one throws (see {@link loadIdentity}).
 */
export async function loadOrCreateIdentity(path: string): Promise<LoadedIdentity> {
  const target = await resolveIdentityPath(path);
  const existing = await readIdentityFile(target, path);
  if (existing !== null) return { keyPair: existing, created: false };
  const keyPair = generateEd25519();
  if (await createExclusive(target, keyPair, path)) return { keyPair, created: true };
  // Someone else created it between our read and our link: theirs wins.
  const winner = await readIdentityFile(target, path);
  if (winner === null) {
    throw new IdentityError('ERR_IDENTITY_IO', `identity file ${path}: vanished while being created`, {
      details: { path },
    });
  }
  return { keyPair: winner, created: false };
}
