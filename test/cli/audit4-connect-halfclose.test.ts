/**
 * Audit of `pilot connect` against a remote that half-closes: it sends a banner and ends its side, but keeps
 * reading. Every byte piped into connect's stdin must still reach it (the CLI used to stop forwarding stdin
 * when the remote ended, and the daemon then closed the stream gracefully: a silent truncation the remote
 * took for the end of the data, with exit 0). One real daemon on loopback; the remote is a library listener
 * on the same daemon.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Driver } from '../../src/index.js';
import { sha256, startLoneDaemon, type LoneDaemon } from './helpers.js';

let d: LoneDaemon;
let driver: Driver;

beforeAll(async () => {
  d = await startLoneDaemon('pilot-audit4-halfclose-');
  driver = await connect(d.sock);
}, 20_000);

afterAll(async () => {
  await driver?.close();
  await d?.stop();
});

describe('pilot connect with piped stdin', () => {
  it('a remote that half-closes first still receives all of stdin, intact', async () => {
    const port = 5001;
    const listener = await driver.listen(port);
    try {
      // The remote: banner, end its side, then read everything until our FIN.
      const received = (async () => {
        const s = await listener.accept();
        s.on('error', () => {});
        s.end('hello\n');
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        await once(s, 'end');
        return Buffer.concat(chunks);
      })();
      received.catch(() => {});

      const data = randomBytes(3 * 1024 * 1024);
      const child = spawn(process.execPath, [d.script, 'connect', String(d.nodeId), String(port)], {
        env: d.env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
      child.stdin.on('error', () => {}); // a CLI that stops reading stdin early closes the pipe
      child.stdin.end(data);
      const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
      const [code] = await closed;
      clearTimeout(timer);

      expect({ code, stdout }).toEqual({ code: 0, stdout: 'hello\n' });
      expect(stderr).toMatch(/connected to/);
      const got = await received;
      expect(got.length).toBe(data.length);
      expect(sha256(got)).toBe(sha256(data));
    } finally {
      await listener.close();
    }
  }, 15_000);
});
