/**
 * trust.json on disk: read (a missing file is an empty store; a bad one is an error, never replaced) and
 * written atomically: a 0600 temp file in the same directory, fsynced, renamed over the target, then the
 * directory fsynced. A missing directory is created with mode 0700.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoOf, writeFileAtomic } from '../../transport/atomic-file.js';
import { MAX_STORE_BYTES } from './constants.js';
import { TrustError } from './errors.js';
import { TrustStore } from './trust-store.js';

function ioError(what: string, path: string, err: unknown): TrustError {
  const reason = err instanceof Error ? err.message : String(err);
  return new TrustError('ERR_TRUST_STORE_IO', `trust store ${path}: cannot ${what}: ${reason}`, {
    cause: err,
    details: { path, errno: errnoOf(err) },
  });
}

/** Load trust.json; an absent file gives an empty store. Throws ERR_TRUST_STORE_CORRUPT / ERR_TRUST_STORE_IO. */
export async function loadTrustFile(path: string): Promise<TrustStore> {
  let handle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return new TrustStore();
    throw ioError('open', path, err);
  }
  let text: string;
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new TrustError('ERR_TRUST_STORE_IO', `trust store ${path}: not a regular file`);
    if (st.size > MAX_STORE_BYTES) {
      throw new TrustError(
        'ERR_TRUST_STORE_CORRUPT',
        `trust store ${path}: ${st.size} bytes is too large to be a trust store`,
        { details: { path, size: st.size } },
      );
    }
    text = (await handle.readFile()).toString('utf8');
  } catch (err) {
    if (err instanceof TrustError) throw err;
    throw ioError('read', path, err);
  } finally {
    await handle.close().catch(() => undefined);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TrustError('ERR_TRUST_STORE_CORRUPT', `trust store ${path}: not valid JSON`, {
      cause: err,
      details: { path },
    });
  }
  return TrustStore.fromJSON(doc, path);
}

/** Write `store` to `path` atomically (mode 0600). Throws ERR_TRUST_STORE_IO. */
export async function saveTrustFile(path: string, store: TrustStore): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError('create directory', path, err);
  }
  const text = `${JSON.stringify(store.toJSON(), null, 2)}\n`;
  await writeFileAtomic(path, text, 0o600, (step, err) => ioError(step, path, err));
}
