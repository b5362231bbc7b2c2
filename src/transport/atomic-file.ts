/**
 * Atomic small-file writes shared by the identity file and the trust store: a fresh temp file next to the
 * target (mode set exactly, fsynced), renamed over the target, then the directory fsynced. Callers turn the
 * `AtomicWriteStep` of a failure into their own typed error.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The step that failed, as callers word it in their errors ("cannot <step>"). */
export type AtomicWriteStep = 'create temp file' | 'write temp file' | 'replace';

/** The `code` of a Node system error (`ENOENT`, ...), if any. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

/** fsync a directory so a rename in it is durable. Not every platform can; that is not an error. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const h = await open(dir, fsConstants.O_RDONLY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // best effort
  }
}

/**
 * Write `text` to a fresh temp file (exactly `mode`) next to `target`, fsynced. Returns the temp path;
 * on failure the temp file is removed and `fail(step, err)` is thrown.
 */
export async function writeTempFile(
  target: string,
  text: string,
  mode: number,
  fail: (step: AtomicWriteStep, err: unknown) => Error,
): Promise<string> {
  const tmp = join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let handle;
  try {
    handle = await open(tmp, 'wx', mode);
  } catch (err) {
    throw fail('create temp file', err);
  }
  try {
    // open()'s mode is filtered by the umask: set it exactly.
    await handle.chmod(mode);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw fail('write temp file', err);
  }
  try {
    await handle.close();
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw fail('write temp file', err);
  }
  return tmp;
}

/** Replace `target` with `text` atomically: temp file, fsync, rename, directory fsync. */
export async function writeFileAtomic(
  target: string,
  text: string,
  mode: number,
  fail: (step: AtomicWriteStep, err: unknown) => Error,
): Promise<void> {
  const tmp = await writeTempFile(target, text, mode, fail);
  try {
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw fail('replace', err);
  }
  await syncDir(dirname(target));
}
