/**
 * Everything the CLI prints goes through {@link Output}: the `--json` envelope (reference §13), NDJSON streams,
 * human text, tables and errors.
 *
 * - JSON mode: success → stdout `{"status":"ok","data":…}` (one line); error → stderr
 *   `{"status":"error","code","message","hint"?}`.
 * - Text mode: success → readable text on stdout; error → stderr `error: <message>` and `hint: <hint>`.
 */
import type { CliError } from './errors.js';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export type Row = Record<string, unknown>;

/** A text renderer for a command's data. */
export type TextRenderer<T = unknown> = (data: T, out: Output) => void;

export class Output {
  readonly json: boolean;
  readonly io: CliIo;

  constructor(io: CliIo, json: boolean) {
    this.io = io;
    this.json = json;
  }

  /** Print a command's result: the envelope in JSON mode, else `render` (or the generic rendering). */
  ok<T>(data: T, render?: TextRenderer<T>): void {
    if (this.json) {
      this.io.stdout.write(`${JSON.stringify({ status: 'ok', data: data ?? {} })}\n`);
      return;
    }
    if (render) render(data, this);
    else this.generic(data);
  }

  /** Print an error (envelope on stderr in JSON mode). */
  error(err: CliError): void {
    if (this.json) {
      const env: Row = { status: 'error', code: err.cliCode, message: err.message };
      if (err.hint) env.hint = err.hint;
      this.io.stderr.write(`${JSON.stringify(env)}\n`);
      return;
    }
    // Messages carry text from elsewhere (a remote's reply, a registry's error, the argument as typed): shown with
    // its control characters escaped, like peer text in tables. Line breaks stay (a log excerpt after a failed start).
    this.io.stderr.write(`error: ${safeLines(err.message)}\n`);
    if (err.hint) this.io.stderr.write(`hint: ${safeLines(err.hint)}\n`);
  }

  /** One NDJSON line on stdout (streaming commands in JSON mode). */
  ndjson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** A line of text on stdout. */
  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** A note on stderr (progress, status), printed in text mode only. */
  note(text: string): void {
    if (!this.json) this.io.stderr.write(`${text}\n`);
  }

  /** `key: value` lines, keys padded to one width. */
  fields(obj: Row, keys: readonly string[] = Object.keys(obj)): void {
    const shown = keys.filter((k) => obj[k] !== undefined);
    const width = Math.max(0, ...shown.map((k) => k.length));
    for (const k of shown) this.line(`${`${k}:`.padEnd(width + 1)} ${cell(obj[k])}`);
  }

  /** A table of rows; `columns` defaults to the keys of the first row. Prints `empty` when there are none. */
  table(rows: readonly Row[], columns?: readonly string[], empty = '(none)'): void {
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    const cols = columns ?? Object.keys(rows[0]);
    const cells = rows.map((r) => cols.map((c) => cell(r[c])));
    const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
    const fmt = (vals: readonly string[]): string =>
      vals
        .map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i])))
        .join('  ')
        .trimEnd();
    this.line(fmt(cols.map((c) => c.toUpperCase())));
    for (const row of cells) this.line(fmt(row));
  }

  /** Generic rendering: scalars as fields, arrays of objects as tables. */
  generic(data: unknown): void {
    if (data === undefined || data === null) return;
    if (typeof data !== 'object') {
      this.line(cell(data));
      return;
    }
    if (Array.isArray(data)) {
      if (data.every(isRow)) this.table(data);
      else for (const v of data) this.line(cell(v));
      return;
    }
    const obj = data as Row;
    const scalars = Object.keys(obj).filter((k) => !isRowList(obj[k]));
    this.fields(obj, scalars);
    for (const k of Object.keys(obj)) {
      if (!isRowList(obj[k])) continue;
      this.line();
      this.line(`${k}:`);
      this.table(obj[k] as Row[]);
    }
  }
}

function isRow(v: unknown): v is Row {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isRowList(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && v.every(isRow);
}

/**
 * C0 and C1 controls, DEL, and Unicode's bidirectional overrides and isolates: in text a peer chose (a handshake
 * justification, a hostname, a message), these could move the cursor, recolour or clear the operator's terminal,
 * forge table rows with a newline, or reorder what is shown.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escapeControl(c: string): string {
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16)}`;
}

/** `text` with its control characters shown as escapes (`\x1b`, `\x0a`, `\u202e`) instead of acting on the terminal. */
export function safeText(text: string): string {
  return UNSAFE_TEXT.test(text) ? text.replace(UNSAFE_TEXT, escapeControl) : text;
}

/** {@link safeText} for each line of `text`: the line breaks themselves are kept. */
export function safeLines(text: string): string {
  return text.split('\n').map(safeText).join('\n');
}

/** One value as table/field text (strings with control characters escaped: see {@link safeText}). */
export function cell(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'string') return v === '' ? '-' : safeText(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map(cell).join(', ');
  return JSON.stringify(v);
}

/** Bytes as B / KiB / MiB. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** Seconds as `1h2m3s`. */
export function humanDuration(secs: number): string {
  const s = Math.floor(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${m}m${r}s` : m > 0 ? `${m}m${r}s` : `${r}s`;
}
