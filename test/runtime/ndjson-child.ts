/**
 * Source text of a small process-plugin child (an ES module) for tests: it reads NDJSON messages from stdin and
 * runs `onMessage` for each, with `m` (the parsed message) and `send(message)` in scope, inside the read loop
 * (`continue` skips a message). `prologue` runs first (imports go there); `onEnd` runs when stdin ends (default:
 * exit 0; `null`: no handler at all).
 */
export function ndjsonChild(
  onMessage: string,
  opts: { prologue?: string; onEnd?: string | null } = {},
): string {
  const onEnd = opts.onEnd === undefined ? 'process.exit(0);' : opts.onEnd;
  return `${opts.prologue ?? ''}
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    ${onMessage}
  }
});
${onEnd === null ? '' : `process.stdin.on('end', () => { ${onEnd} });`}
`;
}
