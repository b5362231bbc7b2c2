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
 */
import { open, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { FRAME_JSON, FRAME_TEXT, frameTypeName } from './frame.js';

export const INBOX_DIR = 'inbox';
export const RECEIVED_DIR = 'received';
/** Names longer than this (in characters, before the timestamp) are cut. */
export const MAX_SAVED_NAME = 200;

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

/**
 * Reduce a sender-chosen name to a safe base name: the last path component (either separator), control
 * characters removed, never empty, `.` or `..`, at most {@link MAX_SAVED_NAME} characters.
 */
export function sanitizeFilename(name: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '');
  const trimmed = cleaned.trim();
  if (trimmed === '' || trimmed === '.' || trimmed === '..') return 'file';
  return trimmed.length > MAX_SAVED_NAME ? trimmed.slice(0, MAX_SAVED_NAME) : trimmed;
}

/** Create a new file with `data`, adding `-1`, `-2`, ... before `ext` while the name is taken. */
async function writeUnique(dir: string, stem: string, ext: string, data: Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let i = 0; ; i++) {
    const path = join(dir, i === 0 ? `${stem}${ext}` : `${stem}-${i}${ext}`);
    let handle;
    try {
      handle = await open(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && i < 1000) continue;
      throw err;
    }
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
    return path;
  }
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

/** Files received, by name. */
export async function listReceived(dataDir: string): Promise<ReceivedFile[]> {
  const dir = join(dataDir, RECEIVED_DIR);
  const out: ReceivedFile[] = [];
  for (const name of await names(dir)) {
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
    if (keep(name) || !(await stat(path).catch(() => null))?.isFile()) continue;
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
