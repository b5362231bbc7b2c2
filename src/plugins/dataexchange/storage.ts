/**
 * Where the data-exchange service keeps what it receives, and the helpers the CLI uses to read it back:
 *
 * - `<dataDir>/inbox/<TYPE>-<YYYYMMDD-HHMMSS.mmm>.json`: one message (TEXT, JSON, BINARY, or a FILE frame
 *   without a name) as `{type, from, data, bytes, received_at}`. TEXT and JSON `data` is the UTF-8 text;
 *   any other type is stored base64 with `encoding: "base64"` added (lossless, unlike the reference).
 * - `<dataDir>/received/<base>-<YYYYMMDD-HHMMSS.mmm><ext>`: a FILE frame's data under its sanitised name.
 *
 * Timestamps are UTC. A name already taken (two frames in one millisecond) gets `-1`, `-2`, ... appended.
 * Directories are created 0700 and files 0600.
 *
 * A file is first written under a hidden temporary name (`.pilot-tmp-<16 hex>`, see {@link isTempFile}) in
 * the same directory and only then linked under its final name, so a failed write (disk full, EFBIG) never
 * leaves a partial file behind: the temporary file is removed on any error. Listings, clearing and the
 * quota ignore temporary files; one left by a crash is removed at the next start (see
 * {@link removeStaleTempFiles}) or by retention.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, open, mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { FRAME_JSON, FRAME_TEXT, frameTypeName } from './frame.js';

export const INBOX_DIR = 'inbox';
export const RECEIVED_DIR = 'received';
/**
 * Sanitised names longer than this many UTF-8 bytes are cut (before the timestamp suffix is added), so the
 * saved name stays well under the usual 255-byte file-name limit.
 */
export const MAX_SAVED_NAME = 200;
/** A cut name keeps its extension when the extension is at most this many bytes. */
export const MAX_KEPT_EXTENSION = 32;
/** Prefix of the temporary files a save writes before moving them into place. */
export const TEMP_FILE_PREFIX = '.pilot-tmp-';
const TEMP_FILE_RE = /^\.pilot-tmp-[0-9a-f]{16}$/;

export interface InboxMessage {
  readonly type: string;
  readonly from: string;
  readonly data: string;
  /** Payload size in bytes. */
  readonly bytes: number;
  /** RFC 3339 UTC. */
  readonly received_at: string;
  /** Present (`base64`) when `data` is base64 of a binary payload. */
  readonly encoding?: 'base64';
}

export interface InboxEntry extends InboxMessage {
  /** The file's absolute path. */
  readonly file: string;
}

export interface ReceivedFile {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** Last modification, RFC 3339 UTC. */
  readonly modified: string;
}

/** `~/.pilot` */
export function defaultDataDir(): string {
  return join(homedir(), '.pilot');
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `YYYYMMDD-HHMMSS.mmm` in UTC. */
export function fileTimestamp(d: Date): string {
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`
  );
}

/** Is `name` (a directory entry of `inbox/` or `received/`) a save's temporary file? */
export function isTempFile(name: string): boolean {
  return TEMP_FILE_RE.test(name);
}

/** The longest prefix of `s` that is at most `maxBytes` bytes of UTF-8, cut between code points. */
function cutUtf8(s: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}

/**
 * Reduce a sender-chosen name to a safe base name: the last path component (either separator), control
 * characters removed, never empty, `.` or `..`, at most {@link MAX_SAVED_NAME} bytes of UTF-8. A longer name
 * is cut at a code-point boundary, shortening the part before the extension; the extension is kept unless it
 * is longer than {@link MAX_KEPT_EXTENSION} bytes.
 */
export function sanitizeFilename(name: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '');
  const trimmed = cleaned.trim();
  if (trimmed === '' || trimmed === '.' || trimmed === '..') return 'file';
  if (Buffer.byteLength(trimmed) <= MAX_SAVED_NAME) return trimmed;
  const ext = extname(trimmed);
  const extBytes = Buffer.byteLength(ext);
  if (ext === '' || extBytes > MAX_KEPT_EXTENSION) return cutUtf8(trimmed, MAX_SAVED_NAME);
  return cutUtf8(trimmed.slice(0, -ext.length), MAX_SAVED_NAME - extBytes) + ext;
}

/** Give `tmp` the name `path` unless that name exists (EEXIST then); `tmp` may remain. */
async function placeExclusive(tmp: string, path: string): Promise<void> {
  try {
    await link(tmp, path);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // File systems without hard links: claim the name first, then move the data over the claim.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  }
  await (await open(path, 'wx', 0o600)).close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(path).catch(() => {});
    throw err;
  }
}

/**
 * Create a new file with `data`, adding `-1`, `-2`, ... before `ext` while the name is taken. The data is
 * written to a temporary file first (removed on any error), so the final name never holds a partial file.
 */
async function writeUnique(dir: string, stem: string, ext: string, data: Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${TEMP_FILE_PREFIX}${randomBytes(8).toString('hex')}`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
    for (let i = 0; ; i++) {
      const path = join(dir, i === 0 ? `${stem}${ext}` : `${stem}-${i}${ext}`);
      try {
        await placeExclusive(tmp, path);
        return path;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && i < 1000) continue;
        throw err;
      }
    }
  } finally {
    // After a link: drop the temporary name (the data lives on under the final one). After a failure: delete
    // the partial file. After the rename fallback there is nothing left to delete.
    await unlink(tmp).catch(() => {});
  }
}

/**
 * Delete temporary files (see {@link isTempFile}) in `inbox/` and `received/` last modified before `cutoffMs`
 * (epoch ms): what a save interrupted by a crash left behind. Returns how many were deleted; never rejects.
 */
export async function removeStaleTempFiles(dataDir: string, cutoffMs: number): Promise<number> {
  let n = 0;
  for (const sub of [INBOX_DIR, RECEIVED_DIR]) {
    const dir = join(dataDir, sub);
    for (const name of await names(dir).catch(() => [])) {
      if (!isTempFile(name)) continue;
      const path = join(dir, name);
      const st = await lstat(path).catch(() => null);
      if (!st?.isFile() || st.mtimeMs >= cutoffMs) continue;
      if (
        await unlink(path).then(
          () => true,
          () => false,
        )
      )
        n++;
    }
  }
  return n;
}

/**
 * The inbox document for a message, exactly as {@link saveInboxMessage} writes it (its length is the bytes the
 * message takes on disk).
 */
export function encodeInboxMessage(type: number, from: string, payload: Buffer, receivedAt: Date): Buffer {
  const text = type === FRAME_TEXT || type === FRAME_JSON;
  const msg: InboxMessage = {
    type: frameTypeName(type),
    from,
    data: payload.toString(text ? 'utf8' : 'base64'),
    bytes: payload.length,
    received_at: receivedAt.toISOString(),
    ...(text ? {} : { encoding: 'base64' as const }),
  };
  return Buffer.from(JSON.stringify(msg, null, 2));
}

/** Write a document made by {@link encodeInboxMessage} to the inbox; returns the file path. */
export function writeInboxMessage(
  dataDir: string,
  type: number,
  doc: Buffer,
  receivedAt: Date,
): Promise<string> {
  const stem = `${frameTypeName(type)}-${fileTimestamp(receivedAt)}`;
  return writeUnique(join(dataDir, INBOX_DIR), stem, '.json', doc);
}

/** Save a message frame to the inbox; returns the file path. Rejects with the fs error. */
export async function saveInboxMessage(
  dataDir: string,
  type: number,
  from: string,
  payload: Buffer,
  receivedAt: Date,
): Promise<string> {
  return writeInboxMessage(dataDir, type, encodeInboxMessage(type, from, payload, receivedAt), receivedAt);
}

/** Save a FILE frame's data under its sanitised name; returns the file path. */
export async function saveReceivedFile(
  dataDir: string,
  filename: string,
  data: Buffer,
  receivedAt: Date,
): Promise<string> {
  const safe = sanitizeFilename(filename);
  const ext = extname(safe);
  const base = ext ? safe.slice(0, -ext.length) : safe;
  return writeUnique(join(dataDir, RECEIVED_DIR), `${base}-${fileTimestamp(receivedAt)}`, ext, data);
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function isInboxMessage(v: unknown): v is InboxMessage {
  const m = v as Record<string, unknown> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.type === 'string' &&
    typeof m.data === 'string' &&
    typeof m.bytes === 'number' &&
    typeof m.received_at === 'string'
  );
}

/** Inbox messages, oldest first. Files that are not inbox messages are skipped. */
export async function listInbox(dataDir: string): Promise<InboxEntry[]> {
  const dir = join(dataDir, INBOX_DIR);
  const out: InboxEntry[] = [];
  for (const name of await names(dir)) {
    if (!name.endsWith('.json')) continue;
    const file = join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    if (isInboxMessage(parsed)) out.push({ ...parsed, file });
  }
  return out.sort((a, b) => a.received_at.localeCompare(b.received_at) || a.file.localeCompare(b.file));
}

/** Files received, by name (temporary files of saves in progress are not listed). */
export async function listReceived(dataDir: string): Promise<ReceivedFile[]> {
  const dir = join(dataDir, RECEIVED_DIR);
  const out: ReceivedFile[] = [];
  for (const name of await names(dir)) {
    if (isTempFile(name)) continue;
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (!st?.isFile()) continue;
    out.push({ name, path, bytes: st.size, modified: st.mtime.toISOString() });
  }
  return out;
}

async function clear(dir: string, keep: (name: string) => boolean): Promise<number> {
  let n = 0;
  for (const name of await names(dir)) {
    const path = join(dir, name);
    if (keep(name) || isTempFile(name) || !(await stat(path).catch(() => null))?.isFile()) continue;
    await rm(path, { force: true });
    n++;
  }
  return n;
}

/** Delete every inbox message; returns how many. */
export function clearInbox(dataDir: string): Promise<number> {
  return clear(join(dataDir, INBOX_DIR), (name) => !name.endsWith('.json'));
}

/** Delete every received file; returns how many. */
export function clearReceived(dataDir: string): Promise<number> {
  return clear(join(dataDir, RECEIVED_DIR), () => false);
}
