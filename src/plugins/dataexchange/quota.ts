/**
 * Storage quota of the data-exchange service: at most `maxInboxMessages` message files in `<dataDir>/inbox/`
 * and at most `maxStoredBytes` bytes in `inbox/` + `received/` together.
 *
 * Bytes are file sizes on disk: every regular file in both directories counts by its size (an inbox message
 * by its JSON document, not by its payload), except the temporary files of saves (storage.ts `isTempFile`):
 * a save in progress is counted by its reservation instead. Messages are the `*.json` regular files in `inbox/` (what
 * `listInbox` and `clearInbox` look at). A missing directory counts as empty.
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
/** 1 GiB. */
export const DEFAULT_MAX_STORED_BYTES = 1024 * 1024 * 1024;
/** Re-scans of the directories are at least this far apart. */
export const QUOTA_RESCAN_INTERVAL_MS = 1000;

export interface QuotaLimits {
  readonly maxInboxMessages: number;
  readonly maxStoredBytes: number;
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
  messages: number;
  bytes: number;
}

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
async function scanDir(dir: string, count: (name: string) => boolean): Promise<Counts> {
  const out: Counts = { messages: 0, bytes: 0 };
  for (const name of await dirNames(dir)) {
    if (isTempFile(name)) continue;
    const st = await stat(join(dir, name)).catch(() => null);
    if (!st?.isFile()) continue;
    out.bytes += st.size;
    if (count(name)) out.messages++;
  }
  return out;
}

/** Current usage of `<dataDir>/inbox` and `<dataDir>/received` (missing directories are empty). */
export async function scanStorageUsage(dataDir: string): Promise<StorageUsage> {
  const inbox = await scanDir(join(dataDir, INBOX_DIR), (name) => name.endsWith('.json'));
  const received = await scanDir(join(dataDir, RECEIVED_DIR), () => false);
  return { inboxMessages: inbox.messages, storedBytes: inbox.bytes + received.bytes };
}

/** The usage bookkeeping of one service instance (see the file comment). */
export class StorageQuota {
  readonly limits: QuotaLimits;
  readonly #dataDir: string;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #onScanError: ((err: unknown) => void) | undefined;
  /** On disk: the last scan plus the commits since. */
  #stored: Counts = { messages: 0, bytes: 0 };
  /** Reserved, not yet committed or cancelled. */
  readonly #pending: Counts = { messages: 0, bytes: 0 };
  /** Commits made while a scan runs (the scan may not see them). */
  #sinceScan: Counts | null = null;
  #scan: Promise<void> | null = null;
  #lastScan = -Infinity;
  #scans = 0;

  constructor(dataDir: string, limits: QuotaLimits, options: StorageQuotaOptions = {}) {
    this.#dataDir = dataDir;
    this.limits = limits;
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
    const since: Counts = { messages: 0, bytes: 0 };
    this.#sinceScan = since;
    this.#scan = (async () => {
      try {
        const u = await scanStorageUsage(this.#dataDir);
        this.#stored = { messages: u.inboxMessages + since.messages, bytes: u.storedBytes + since.bytes };
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
   * Reserve room for `messages` inbox files (0 or 1) and `bytes` bytes. When it does not fit, re-scan first
   * (rate-limited) in case files were deleted; still over → `{ok: false, reason}`.
   */
  async reserve(messages: number, bytes: number): Promise<QuotaDecision> {
    let reason = this.#over(messages, bytes);
    const hopeless = messages > this.limits.maxInboxMessages || bytes > this.limits.maxStoredBytes;
    if (reason !== null && !hopeless && (this.#scan || this.#now() - this.#lastScan >= this.#interval)) {
      await this.scan();
      reason = this.#over(messages, bytes);
    }
    if (reason !== null) return { ok: false, reason };
    this.#pending.messages += messages;
    this.#pending.bytes += bytes;
    let settled = false;
    const settle = (stored: boolean): void => {
      if (settled) return;
      settled = true;
      this.#pending.messages -= messages;
      this.#pending.bytes -= bytes;
      if (!stored) return;
      this.#stored.messages += messages;
      this.#stored.bytes += bytes;
      if (this.#sinceScan) {
        this.#sinceScan.messages += messages;
        this.#sinceScan.bytes += bytes;
      }
    };
    return { ok: true, reservation: { commit: () => settle(true), cancel: () => settle(false) } };
  }

  /** Why `messages` + `bytes` more do not fit, or null. */
  #over(messages: number, bytes: number): string | null {
    const { inboxMessages, storedBytes } = this.usage;
    const { maxInboxMessages, maxStoredBytes } = this.limits;
    if (messages > 0 && inboxMessages + messages > maxInboxMessages) {
      return `inbox holds ${inboxMessages} of ${maxInboxMessages} messages (maxInboxMessages)`;
    }
    if (storedBytes + bytes > maxStoredBytes) {
      return `${bytes} bytes do not fit, ${storedBytes} of ${maxStoredBytes} bytes used (maxStoredBytes)`;
    }
    return null;
  }
}
