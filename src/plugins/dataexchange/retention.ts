/**
 * Retention of the data-exchange service: message files in `<dataDir>/inbox/` and files in
 * `<dataDir>/received/` older than `retentionHours` (by modification time) are deleted, at start and then
 * periodically. Off by default (0 keeps everything): deleting a user's data is never a surprise.
 *
 * Only regular files directly in the two directories are considered; anything else (directories, links to
 * directories, files the process cannot stat) is left alone. A file still being written has a fresh
 * modification time and is never old enough; an old temporary file of a save (left by a crash) is deleted
 * like any other old file.
 */
import { lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { dirNames } from './quota.js';
import { INBOX_DIR, RECEIVED_DIR } from './storage.js';

/** Sweeps are at least this far apart, and at most one hour apart. */
export const RETENTION_MIN_SWEEP_MS = 60_000;
export const RETENTION_MAX_SWEEP_MS = 3_600_000;

export interface PruneResult {
  /** Files deleted. */
  readonly files: number;
  /** Their sizes, summed. */
  readonly bytes: number;
  /** Files that were old enough but could not be deleted. */
  readonly failed: number;
}

/** Delete the regular files in `inbox/` and `received/` last modified before `cutoffMs` (epoch ms). */
export async function pruneOlderThan(dataDir: string, cutoffMs: number): Promise<PruneResult> {
  let files = 0;
  let bytes = 0;
  let failed = 0;
  for (const sub of [INBOX_DIR, RECEIVED_DIR]) {
    const dir = join(dataDir, sub);
    for (const name of await dirNames(dir)) {
      const path = join(dir, name);
      const st = await lstat(path).catch(() => null);
      if (!st?.isFile() || st.mtimeMs >= cutoffMs) continue;
      try {
        await unlink(path);
        files++;
        bytes += st.size;
      } catch (err) {
        // Gone already (a concurrent `pilot inbox --clear`) is not a failure.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed++;
      }
    }
  }
  return { files, bytes, failed };
}

/** How often to sweep for a retention of `retentionMs`: a tenth of it, within 1 min .. 1 h. */
export function sweepIntervalMs(retentionMs: number): number {
  return Math.min(RETENTION_MAX_SWEEP_MS, Math.max(RETENTION_MIN_SWEEP_MS, Math.floor(retentionMs / 10)));
}
