/**
 * Storage quota of the data-exchange service: at most `maxInboxMessages` message files in `<dataDir>/inbox/`,
 * at most `maxReceivedFiles` files in `<dataDir>/received/`, and at most `maxStoredBytes` bytes in `inbox/` +
 * `received/` together. The two counts matter as much as the bytes: an empty FILE frame stores a 0-byte file,
 * so without `maxReceivedFiles` a peer could create files (inodes, directory entries) without limit.
 *
 * Bytes are file sizes on disk: every regular file in both directories counts by its size (an inbox message
 * by its JSON document, not by its payload), except the temporary files of saves (storage.ts `isTempFile`):
 * a save in progress is counted by its reservation instead. Messages are the `*.json` regular files in `inbox/` (what
 * `listInbox` and `clearInbox` look at); received files are the regular files in `received/` (what
 * `listReceived` and `clearReceived` look at). A missing directory counts as empty.
 *
 * Usage is scanned once at start and then kept up to date by the saves themselves: a save first reserves its
 * room ({@link StorageQuota.reserve}), then commits it once written or cancels it when the write failed, so
 * concurrent saves can never overshoot together. Files deleted behind the service's back (`pilot inbox
 * --clear`) are noticed by a re-scan, done only when a frame would not fit and at most once per
 * {@link QUOTA_RESCAN_INTERVAL_MS} (concurrent callers share one scan). A save completing while a scan runs
 * may be counted twice until the next scan: the error is always on the side of refusing.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { INBOX_DIR, RECEIVED_DIR, isTempFile } from './storage.js';

export const DEFAULT_MAX_INBOX_MESSAGES = 10_000;
export const DEFAULT_MAX_RECEIVED_FILES = 10_000;
/** 1 GiB. */
export const DEFAULT_MAX_STORED_BYTES = 1024 * 1024 * 1024;
/** Re-scans of the directories are at least this far apart. */
export const QUOTA_RESCAN_INTERVAL_MS = 1000;

export interface QuotaLimits {
  readonly maxInboxMessages: number;
  readonly maxStoredBytes: number;
  /** Default {@link DEFAULT_MAX_RECEIVED_FILES}. */
  readonly maxReceivedFiles?: number;
}

export interface StorageUsage {
  /** `*.json` files in `inbox/`. */
  readonly inboxMessages: number;
  /** Size of every regular file in `inbox/` and `received/` (temporary files of saves aside). */
  readonly storedBytes: number;
}

/** Room taken by {@link StorageQuota.reserve}; settle it exactly once (later calls are ignored). */
export interface QuotaReservation {
  /** The data is on disk: it now counts as stored. */
  commit(): void;
  /** Nothing (usable) was stored: give the room back. */
  cancel(): void;
}

export type QuotaDecision =
  | { readonly ok: true; readonly reservation: QuotaReservation }
  | { readonly ok: false; readonly reason: string };

export interface StorageQuotaOptions {
  /** Monotonic clock in ms for the re-scan rate limit (default `performance.now()`). */
  readonly now?: () => number;
  /** Default {@link QUOTA_RESCAN_INTERVAL_MS}. */
  readonly rescanIntervalMs?: number;
  /** A scan failed (the previous numbers are kept). */
  readonly onScanError?: (err: unknown) => void;
}

interface Counts {
  /** `*.json` files in `inbox/`. */
  messages: number;
  /** Regular files in `received/`. */
  files: number;
  bytes: number;
}

const zero = (): Counts => ({ messages: 0, files: 0, bytes: 0 });

/** The names in `dir`; a missing directory (or a file in its place) has none. */
export async function dirNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/** Sum of the regular files' sizes in `dir` (temporary files aside), and how many of them `count` selects. */
async function scanDir(dir: string, count: (name: string) => boolean): Promise<{ n: number; bytes: number }> {
  const out = { n: 0, bytes: 0 };
  for (const name of await dirNames(dir)) {
    if (isTempFile(name)) continue;
    const st = await stat(join(dir, name)).catch(() => null);
    if (!st?.isFile()) continue;
    out.bytes += st.size;
    if (count(name)) out.n++;
  }
  return out;
}

async function scanCounts(dataDir: string): Promise<Counts> {
  const inbox = await scanDir(join(dataDir, INBOX_DIR), (name) => name.endsWith('.json'));
  const received = await scanDir(join(dataDir, RECEIVED_DIR), () => true);
  return { messages: inbox.n, files: received.n, bytes: inbox.bytes + received.bytes };
}

/** Current usage of `<dataDir>/inbox` and `<dataDir>/received` (missing directories are empty). */
export async function scanStorageUsage(dataDir: string): Promise<StorageUsage> {
  const c = await scanCounts(dataDir);
  return { inboxMessages: c.messages, storedBytes: c.bytes };
}

/** Regular files in `<dataDir>/received` (temporary files of saves aside; a missing directory has none). */
export async function countReceivedFiles(dataDir: string): Promise<number> {
  return (await scanCounts(dataDir)).files;
}

/** The usage bookkeeping of one service instance (see the file comment). */
export class StorageQuota {
  readonly limits: Required<QuotaLimits>;
  readonly #dataDir: string;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #onScanError: ((err: unknown) => void) | undefined;
  /** On disk: the last scan plus the commits since. */
  #stored: Counts = zero();
  /** Reserved, not yet committed or cancelled. */
  readonly #pending: Counts = zero();
  /** Commits made while a scan runs (the scan may not see them). */
  #sinceScan: Counts | null = null;
  #scan: Promise<void> | null = null;
  #lastScan = -Infinity;
  #scans = 0;

  constructor(dataDir: string, limits: QuotaLimits, options: StorageQuotaOptions = {}) {
    this.#dataDir = dataDir;
    this.limits = { maxReceivedFiles: DEFAULT_MAX_RECEIVED_FILES, ...limits };
    this.#now = options.now ?? (() => performance.now());
    this.#interval = options.rescanIntervalMs ?? QUOTA_RESCAN_INTERVAL_MS;
    this.#onScanError = options.onScanError;
  }

  /** Stored plus reserved. */
  get usage(): StorageUsage {
    return {
      inboxMessages: this.#stored.messages + this.#pending.messages,
      storedBytes: this.#stored.bytes + this.#pending.bytes,
    };
  }

  /** Files in `received/`, stored plus reserved (counted against `maxReceivedFiles`). */
  get receivedFiles(): number {
    return this.#stored.files + this.#pending.files;
  }

  /** Directory scans done so far (the initial one included). */
  get scans(): number {
    return this.#scans;
  }

  /**
   * Scan the directories now (not rate-limited; joins a scan already running). Never rejects: a failure goes
   * to `onScanError` and the previous numbers are kept.
   */
  scan(): Promise<void> {
    if (this.#scan) return this.#scan;
    this.#lastScan = this.#now();
    this.#scans++;
    const since = zero();
    this.#sinceScan = since;
    this.#scan = (async () => {
      try {
        const c = await scanCounts(this.#dataDir);
        this.#stored = {
          messages: c.messages + since.messages,
          files: c.files + since.files,
          bytes: c.bytes + since.bytes,
        };
      } catch (err) {
        this.#onScanError?.(err);
      } finally {
        this.#sinceScan = null;
        this.#scan = null;
      }
    })();
    return this.#scan;
  }

  /**
   * Reserve room for `messages` inbox files (0 or 1), `files` received files (0 or 1) and `bytes` bytes. When
   * it does not fit, re-scan first (rate-limited) in case files were deleted; still over → `{ok: false, reason}`.
   */
  async reserve(messages: number, bytes: number, files = 0): Promise<QuotaDecision> {
    const want: Counts = { messages, files, bytes };
    let reason = this.#over(want);
    const { maxInboxMessages, maxReceivedFiles, maxStoredBytes } = this.limits;
    const hopeless = messages > maxInboxMessages || files > maxReceivedFiles || bytes > maxStoredBytes;
    if (reason !== null && !hopeless && (this.#scan || this.#now() - this.#lastScan >= this.#interval)) {
      await this.scan();
      reason = this.#over(want);
    }
    if (reason !== null) return { ok: false, reason };
    add(this.#pending, want, 1);
    let settled = false;
    const settle = (stored: boolean): void => {
      if (settled) return;
      settled = true;
      add(this.#pending, want, -1);
      if (!stored) return;
      add(this.#stored, want, 1);
      if (this.#sinceScan) add(this.#sinceScan, want, 1);
    };
    return { ok: true, reservation: { commit: () => settle(true), cancel: () => settle(false) } };
  }

  /** Why `want` more does not fit, or null. */
  #over({ messages, files, bytes }: Counts): string | null {
    const { inboxMessages, storedBytes } = this.usage;
    const receivedFiles = this.receivedFiles;
    const { maxInboxMessages, maxReceivedFiles, maxStoredBytes } = this.limits;
    if (messages > 0 && inboxMessages + messages > maxInboxMessages) {
      return `inbox holds ${inboxMessages} of ${maxInboxMessages} messages (maxInboxMessages)`;
    }
    if (files > 0 && receivedFiles + files > maxReceivedFiles) {
      return `received/ holds ${receivedFiles} of ${maxReceivedFiles} files (maxReceivedFiles)`;
    }
    if (storedBytes + bytes > maxStoredBytes) {
      return `${bytes} bytes do not fit, ${storedBytes} of ${maxStoredBytes} bytes used (maxStoredBytes)`;
    }
    return null;
  }
}

function add(into: Counts, c: Counts, sign: 1 | -1): void {
  into.messages += sign * c.messages;
  into.files += sign * c.files;
  into.bytes += sign * c.bytes;
}
