/**
 * Data-exchange retention: files older than `retentionHours` in inbox/ and received/ are deleted at start
 * and by later sweeps; the quota's usage follows; 0 (the default) keeps everything.
 */
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  DataExchangeService,
  dataExchangeOptions,
  pruneOlderThan,
  RETENTION_MAX_SWEEP_MS,
  RETENTION_MIN_SWEEP_MS,
  sendMessage,
  sweepIntervalMs,
} from '../../src/plugins/index.js';
import { nodeAddr, testNet } from './helpers.js';

const HOUR = 3_600_000;

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-dxr-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'inbox'), { recursive: true });
  await mkdir(join(dir, 'received'), { recursive: true });
  return dir;
}

/** Write `path` with `bytes` bytes, last modified `ageMs` ago. */
async function fileAged(path: string, bytes: number, ageMs: number): Promise<void> {
  await writeFile(path, Buffer.alloc(bytes, 1));
  const t = new Date(Date.now() - ageMs);
  await utimes(path, t, t);
}

describe('data exchange retention', () => {
  it('pruneOlderThan deletes only old regular files in inbox/ and received/', async () => {
    const dir = await dataDir();
    await fileAged(join(dir, 'inbox', 'TEXT-old.json'), 100, 3 * HOUR);
    await fileAged(join(dir, 'inbox', 'TEXT-new.json'), 50, 10_000);
    await fileAged(join(dir, 'received', 'old.bin'), 1000, 5 * HOUR);
    await mkdir(join(dir, 'received', 'old-dir'));
    await utimes(join(dir, 'received', 'old-dir'), new Date(0), new Date(0));
    await fileAged(join(dir, 'elsewhere.bin'), 10, 9 * HOUR);
    await symlink(join(dir, 'elsewhere.bin'), join(dir, 'received', 'link.bin'));
    const r = await pruneOlderThan(dir, Date.now() - 2 * HOUR);
    expect(r).toEqual({ files: 2, bytes: 1100, failed: 0 });
    expect((await readdir(join(dir, 'inbox'))).sort()).toEqual(['TEXT-new.json']);
    expect((await readdir(join(dir, 'received'))).sort()).toEqual(['link.bin', 'old-dir']);
    expect(await readdir(dir)).toContain('elsewhere.bin');
    // Missing directories are empty, not an error.
    expect(await pruneOlderThan(join(dir, 'nope'), Date.now())).toEqual({ files: 0, bytes: 0, failed: 0 });
  });

  it('the service sweeps at start, keeps the quota usage right, and sweeps again on demand', async () => {
    const dir = await dataDir();
    await fileAged(join(dir, 'inbox', 'TEXT-a.json'), 200, 30 * HOUR);
    await fileAged(join(dir, 'inbox', 'TEXT-b.json'), 300, HOUR);
    await fileAged(join(dir, 'received', 'x.bin'), 4000, 25 * HOUR);
    const t = testNet();
    const service = new DataExchangeService({ dataDir: dir, retentionHours: 24 });
    await t.start(service, 2);
    expect(service.stats.pruned).toBe(2);
    expect(service.usage).toEqual({ inboxMessages: 1, storedBytes: 300 });
    expect(await readdir(join(dir, 'inbox'))).toEqual(['TEXT-b.json']);

    // New messages are stored as usual.
    await sendMessage(t.node(1), nodeAddr(2), 'TEXT', Buffer.from('hello'));
    expect((await readdir(join(dir, 'inbox'))).length).toBe(2);

    // A file that became old is removed by the next sweep, and the usage drops with it.
    await fileAged(join(dir, 'received', 'y.bin'), 700, 48 * HOUR);
    const before = service.usage.storedBytes;
    const r = await service.sweep();
    expect(r.files).toBe(1);
    expect(service.stats.pruned).toBe(3);
    expect(service.usage.storedBytes).toBeLessThan(before + 700);
    expect(await readdir(join(dir, 'received'))).toEqual([]);
  });

  it('retentionHours 0 (the default) deletes nothing', async () => {
    const dir = await dataDir();
    await fileAged(join(dir, 'inbox', 'TEXT-a.json'), 10, 1000 * HOUR);
    const t = testNet();
    const service = new DataExchangeService({ dataDir: dir });
    await t.start(service, 2);
    expect(service.options.retentionHours).toBe(0);
    expect(await service.sweep()).toEqual({ files: 0, bytes: 0, failed: 0 });
    expect(await readdir(join(dir, 'inbox'))).toEqual(['TEXT-a.json']);
    expect(service.stats.pruned).toBe(0);
  });

  it('rejects a bad retentionHours with ERR_INVALID_ARG naming the key', () => {
    for (const v of [-1, 'week', Number.NaN, Infinity]) {
      let err: unknown;
      try {
        dataExchangeOptions({ retentionHours: v });
      } catch (e) {
        err = e;
      }
      expect(err, String(v)).toMatchObject({ code: 'ERR_INVALID_ARG', details: { key: 'retentionHours' } });
    }
    expect(dataExchangeOptions({ retentionHours: 0.5 }).retentionHours).toBe(0.5);
  });

  it('sweeps a tenth of the retention apart, within 1 min .. 1 h', () => {
    expect(sweepIntervalMs(HOUR)).toBe(RETENTION_MIN_SWEEP_MS * 6);
    expect(sweepIntervalMs(60_000)).toBe(RETENTION_MIN_SWEEP_MS);
    expect(sweepIntervalMs(1000 * HOUR)).toBe(RETENTION_MAX_SWEEP_MS);
  });
});
