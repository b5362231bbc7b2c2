/**
 * Text output (tables and fields) shows control characters in strings a peer chose as escapes: a handshake
 * justification or an inbox message must not move the operator's cursor, recolour or clear the terminal, or
 * forge table rows with a newline. `--json` output carries the text unchanged (JSON escapes it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cell, Output, safeText } from '../../cmd/output.js';
import { baseEnv, cliBundle, okData, runCli, tempDir } from './helpers.js';

const tmp = tempDir('pilot-escapes-');
afterAll(() => tmp.cleanup());
beforeAll(async () => {
  await cliBundle();
});

const HOSTILE = 'ok\x1b[2J\x1b]0;owned\x07\r\nnode 7  trusted\u202efdp.exe\x9b31m\x7f';

describe('control characters in text output', () => {
  it('are escaped, and ordinary text (Unicode included) is left alone', () => {
    expect(safeText(HOSTILE)).toBe(
      'ok\\x1b[2J\\x1b]0;owned\\x07\\x0d\\x0anode 7  trusted\\u202efdp.exe\\x9b31m\\x7f',
    );
    expect(safeText('héllo wörld — 日本 🙂\ttab')).toBe('héllo wörld — 日本 🙂\\x09tab');
    expect(cell('plain')).toBe('plain');
    expect(cell(['a\nb', 'c'])).toBe('a\\x0ab, c');
    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (d: Buffer) => (text += d.toString()));
    const out = new Output({ stdout, stderr: new PassThrough(), stdin: new PassThrough(), env: {} }, false);
    out.table([{ node_id: 7, justification: HOSTILE }]);
    out.fields({ hostname: 'a\x1b[31mb' });
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
    // One header, one row, one field: the newline in the justification made no extra line.
    expect(text.trimEnd().split('\n')).toHaveLength(3);
  });

  it('pilot inbox shows a hostile message escaped in its table, and unchanged with --json', async () => {
    const home = join(tmp.dir, 'home');
    const inbox = join(home, 'data', 'inbox');
    mkdirSync(inbox, { recursive: true });
    writeFileSync(
      join(inbox, 'TEXT-00001.json'),
      JSON.stringify({
        type: 'TEXT',
        from: '0:0000.0000.0002',
        data: HOSTILE,
        bytes: Buffer.byteLength(HOSTILE),
        received_at: new Date().toISOString(),
      }),
    );
    const env = baseEnv({ PILOT_HOME: home, PILOT_SOCKET: join(tmp.dir, 'none.sock') });
    const text = await runCli(['inbox', '--data-dir', join(home, 'data')], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('\\x1b[2J');
    expect(text.stdout).not.toContain('\x1b');
    const json = okData<{ messages: { data: string }[] }>(
      await runCli(['--json', 'inbox', '--data-dir', join(home, 'data')], { env }),
    );
    expect(json.messages[0].data).toBe(HOSTILE);
  });
});
