/**
 * The handshake `pending` reply, made to fit one IPC message (1 MiB). Peers choose the justifications: a full
 * pending list (up to `maxPending`, 1,024 by default) of long ones, control characters escaped six bytes each
 * in JSON, is several MiB, and the whole reply would fail. The operator would then not see, and so not approve,
 * anyone. So when the list does not fit, its justifications are shortened (to {@link SHORT_JUSTIFICATION}
 * characters and an ellipsis), and if that is still too much, the list stops where the budget ends; `omitted`
 * says how many entries were left out. The node IDs in the reply are complete, so any of them can be approved.
 */

/** Characters kept of each justification when the full list does not fit. */
export const SHORT_JUSTIFICATION = 120;

type Json = Record<string, unknown>;

function size(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v), 'utf8');
}

function shorten(row: Json): Json {
  const j = row.justification;
  if (typeof j !== 'string' || j.length <= SHORT_JUSTIFICATION) return row;
  // Not inside a surrogate pair.
  let end = SHORT_JUSTIFICATION;
  const c = j.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return { ...row, justification: `${j.slice(0, end)}…` };
}

/**
 * `reply` ({pending: rows, ...}) unchanged when its JSON is at most `maxBytes`; otherwise with shortened
 * justifications, and then as many rows as fit plus `omitted` (the count left out).
 */
export function fitPending(reply: Json, maxBytes: number): Json {
  const rows = reply.pending;
  if (!Array.isArray(rows) || size(reply) <= maxBytes) return reply;
  const short = (rows as Json[]).map((r) => (typeof r === 'object' && r !== null ? shorten(r) : r));
  const shortened = { ...reply, pending: short };
  if (size(shortened) <= maxBytes) return shortened;
  // Room for the rest of the reply and an `omitted` count, then rows while they fit (each plus its comma).
  let used = size({ ...reply, pending: [], omitted: rows.length });
  const kept: unknown[] = [];
  for (const r of short) {
    const n = size(r) + 1;
    if (used + n > maxBytes) break;
    used += n;
    kept.push(r);
  }
  return { ...reply, pending: kept, omitted: rows.length - kept.length };
}
