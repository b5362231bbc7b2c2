/**
 * Audit of `pilot connect` with binary data and a stdout reader slower than the stream: every byte the remote
 * echoes reaches stdout, in order, before the CLI exits. One real daemon on loopback dials its own echo port.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, startLoneDaemon, type LoneDaemon } from './helpers.js';

let d: LoneDaemon;

beforeAll(async () => {
  d = await startLoneDaemon('pilot-audit-connect-');
}, 20_000);

afterAll(async () => {
  await d?.stop();
});

describe('pilot connect', () => {
  it('binary data through echo reaches a slow stdout reader intact (nothing lost at exit)', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const child = spawn(process.execPath, [d.script, 'connect', String(d.nodeId), '7'], {
      env: d.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    child.stdout.pause(); // a reader that is busy: the CLI must wait for it
    child.stdin.end(data);
    // The echo has long come back by then; a CLI that does not wait for its reader has exited.
    const exitedEarly = await Promise.race([
      once(child, 'exit').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2500).unref()),
    ]);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stdout.resume();
    const [code] = await closed;
    const out = Buffer.concat(chunks);
    expect({ code, exitedEarly }).toEqual({ code: 0, exitedEarly: false });
    expect(stderr).toMatch(/connected to/);
    expect(out.length).toBe(data.length);
    expect(sha256(out)).toBe(sha256(data));
  }, 20_000);
});
