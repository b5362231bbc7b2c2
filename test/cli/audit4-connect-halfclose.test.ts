/**
 * Audit of `pilot connect` against a remote that half-closes: it sends a banner and ends its side, but keeps
 * reading. Every byte piped into connect's stdin must still reach it (the CLI used to stop forwarding stdin
 * when the remote ended, and the daemon then closed the stream gracefully: a silent truncation the remote
 * took for the end of the data, with exit 0). One real daemon on loopback; the remote is a library listener
 * on the same daemon.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createRegistry, silentLogger, type Driver, type RegistryServer } from '../../src/index.js';
import { baseEnv, cliBundle, spawnCli, tempDir, type CliProcess } from './helpers.js';

const tmp = tempDir('pilot-audit4-halfclose-');
const sock = join(tmp.dir, 'd.sock');
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: sock });
let script = '';
let registry: RegistryServer;
let daemon: CliProcess;
let driver: Driver;
let nodeId = 0;

beforeAll(async () => {
  script = await cliBundle();
  registry = createRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false, logger: silentLogger });
  const a = await registry.listen();
  daemon = await spawnCli(
    [
      'daemon',
      '--registry',
      `${a.host}:${a.port}`,
      '--listen',
      '127.0.0.1:0',
      '--identity',
      join(tmp.dir, 'identity.json'),
      '--log-level',
      'warn',
      '--json',
    ],
    { env },
  );
  const line = await daemon.waitFor(/^\{"status":"ok".*\}$/m);
  nodeId = (JSON.parse(line[0]) as { data: { node_id: number } }).data.node_id;
  driver = await connect(sock);
}, 20_000);

afterAll(async () => {
  await driver?.close();
  await daemon?.stop();
  await registry?.close();
  tmp.cleanup();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

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
      const child = spawn(process.execPath, [script, 'connect', String(nodeId), String(port)], {
        env,
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
      expect(sha(got)).toBe(sha(data));
    } finally {
      await listener.close();
    }
  }, 15_000);
});
