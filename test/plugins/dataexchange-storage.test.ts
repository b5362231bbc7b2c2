/**
 * Data-exchange storage on a real file system: names chosen by a remote peer always fit the file system's
 * 255-byte name limit, and a save that fails half-way never leaves a partial file where listings, the quota
 * or the user would take it for a received file.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  clearInbox,
  clearReceived,
  DataExchangeService,
  isTempFile,
  listInbox,
  listReceived,
  MAX_SAVED_NAME,
  saveInboxMessage,
  saveReceivedFile,
  sanitizeFilename,
  scanStorageUsage,
  FRAME_TEXT,
} from '../../src/plugins/index.js';
import { realNet, startOnB } from './real-net.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** NAME_MAX on Linux (and most file systems), in bytes. */
const NAME_MAX = 255;

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-dx-storage-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A string survives a UTF-8 round trip exactly when it has no lone surrogate. */
function wellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code, out }));
  });
}

describe('data-exchange file names from remote peers', () => {
  it('keeps path tricks inside received/', async () => {
    const dataDir = await tempDir();
    const names = [
      '../../x.txt',
      '..\\..\\y.txt',
      '/etc/passwd',
      'a\u0000/../..',
      '..',
      '.',
      '',
      ' ',
      'C:\\w\\z',
    ];
    for (const n of names) await saveReceivedFile(dataDir, n, Buffer.from('d'), new Date());
    expect(await readdir(dataDir)).toEqual(['received']);
    expect(await readdir(join(dataDir, 'received'))).toHaveLength(names.length);
  });

  it('caps a name at MAX_SAVED_NAME bytes of UTF-8, so a long non-ASCII name is saved', async () => {
    const dataDir = await tempDir();
    const name = `${'報告書'.repeat(33)}x.pdf`; // 104 characters, 305 bytes of UTF-8
    const safe = sanitizeFilename(name);
    expect(Buffer.byteLength(safe)).toBeLessThanOrEqual(MAX_SAVED_NAME);
    expect(safe).toMatch(/^[報告書]{60,}\.pdf$/);
    const at = new Date();
    const paths = [
      await saveReceivedFile(dataDir, name, Buffer.from('one'), at),
      await saveReceivedFile(dataDir, name, Buffer.from('two'), at), // same millisecond: `-1` is added
    ];
    expect(paths.map((p) => dirname(p))).toEqual([join(dataDir, 'received'), join(dataDir, 'received')]);
    expect(paths[1]).toMatch(/-1\.pdf$/);
    for (const p of paths) expect(Buffer.byteLength(basename(p))).toBeLessThanOrEqual(NAME_MAX);
    expect((await listReceived(dataDir)).map((f) => f.bytes)).toEqual([3, 3]);
  });

  it('shortens the base name of a long name and keeps its extension', () => {
    const cut = sanitizeFilename(`${'a'.repeat(300)}.pdf`);
    expect(cut).toBe(`${'a'.repeat(MAX_SAVED_NAME - 4)}.pdf`);
    const wide = sanitizeFilename(`${'é'.repeat(150)}.tar.gz`);
    expect(wide).toMatch(/^é+\.gz$/);
    expect(Buffer.byteLength(wide)).toBeLessThanOrEqual(MAX_SAVED_NAME);
  });

  it('cuts an absurdly long extension like the rest of the name', () => {
    const cut = sanitizeFilename(`report.${'x'.repeat(300)}`);
    expect(Buffer.byteLength(cut)).toBe(MAX_SAVED_NAME);
    expect(cut.startsWith('report.')).toBe(true);
  });

  it('never cuts inside a character (a surrogate pair or a multi-byte sequence)', () => {
    const emoji = sanitizeFilename(`${'a'.repeat(199)}\u{1F600}`);
    expect(emoji).toBe('a'.repeat(199));
    expect(wellFormed(emoji)).toBe(true);
    for (let pad = 0; pad < 4; pad++) {
      const cut = sanitizeFilename(`${'b'.repeat(pad)}${'\u{1F600}'.repeat(80)}`);
      expect(wellFormed(cut)).toBe(true);
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_SAVED_NAME);
      expect(Buffer.byteLength(cut)).toBeGreaterThan(MAX_SAVED_NAME - 4);
    }
  });
});

describe('data-exchange saves that fail half-way', () => {
  it('a FILE whose write fails (EFBIG) leaves nothing in received/', async () => {
    // The failure is real: the saver runs in a child process under `ulimit -f` (Node ignores SIGXFSZ, so the
    // write fails with EFBIG once the file-size limit is reached).
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const script = join(dir, 'save.mts');
    const storage = join(ROOT, 'src/plugins/dataexchange/storage.ts');
    await writeFile(
      script,
      `import { saveReceivedFile } from ${JSON.stringify(storage)};
try {
  await saveReceivedFile(${JSON.stringify(dataDir)}, 'report.bin', Buffer.alloc(200_000, 7), new Date());
  console.log('SAVED');
} catch (err) {
  console.log('FAILED', err.code);
}
`,
    );
    // 64 KiB file-size limit (ulimit -f counts 1024-byte blocks).
    const r = await run('bash', [
      '-c',
      `ulimit -f 64 && exec "${process.execPath}" --import tsx "${script}"`,
    ]);
    expect(r.out).toContain('FAILED EFBIG');
    expect(await readdir(join(dataDir, 'received'))).toEqual([]); // neither the final name nor a temp file
  });

  it('temporary files of saves are not listed, cleared or counted by the quota', async () => {
    const dataDir = await tempDir();
    const at = new Date();
    await saveInboxMessage(dataDir, FRAME_TEXT, '1:0000.0000.0001', Buffer.from('hello'), at);
    await saveReceivedFile(dataDir, 'a.bin', Buffer.alloc(10), at);
    const before = await scanStorageUsage(dataDir);
    const tmp = '.pilot-tmp-0123456789abcdef';
    expect(isTempFile(tmp)).toBe(true);
    await writeFile(join(dataDir, 'inbox', tmp), Buffer.alloc(1000));
    await writeFile(join(dataDir, 'received', tmp), Buffer.alloc(1000));

    expect(await scanStorageUsage(dataDir)).toEqual(before);
    expect((await listInbox(dataDir)).map((m) => m.data)).toEqual(['hello']);
    expect((await listReceived(dataDir)).map((f) => f.name)).toEqual([expect.stringMatching(/^a-.*\.bin$/)]);
    expect(await clearInbox(dataDir)).toBe(1);
    expect(await clearReceived(dataDir)).toBe(1);
    expect(await readdir(join(dataDir, 'received'))).toEqual([tmp]); // a save in progress is left alone
  });

  it('the service removes temporary files left by a crash when it starts, and only old ones', async () => {
    const dataDir = await tempDir();
    await mkdir(join(dataDir, 'received'), { recursive: true });
    const stale = join(dataDir, 'received', '.pilot-tmp-00000000000000aa');
    const fresh = join(dataDir, 'received', '.pilot-tmp-00000000000000bb');
    const dotfile = join(dataDir, 'received', '.keep');
    for (const f of [stale, fresh, dotfile]) await writeFile(f, 'x');
    const dayAgo = new Date(Date.now() - 24 * 3_600_000);
    await utimes(stale, dayAgo, dayAgo);
    await utimes(dotfile, dayAgo, dayAgo);
    const net = await realNet();
    await startOnB(net, new DataExchangeService({ dataDir }));
    expect((await readdir(join(dataDir, 'received'))).sort()).toEqual(['.keep', basename(fresh)]);
  });
});
