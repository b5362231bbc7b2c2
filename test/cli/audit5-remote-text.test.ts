/**
 * Text a remote chose reaches the operator's terminal escaped, in errors as in tables: a data-exchange server
 * that answers `ERR <escape sequences>` (or an `ACK` with them) must not clear or retitle the terminal through
 * `pilot send-message`. `--json` carries the text unchanged (JSON escapes it).
 */
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, makeAddr, type Driver, type Listener } from '../../src/client.js';
import { createRegistry, silentLogger } from '../../src/index.js';
import { CliError } from '../../cmd/errors.js';
import { Output } from '../../cmd/output.js';
import { baseEnv, errorEnvelope, okData, runCli, spawnCli, tempDir, type CliProcess } from './helpers.js';

const HOSTILE = '\x1b[2J\x1b]0;owned\x07\u202e';
// eslint-disable-next-line no-control-regex
const RAW = /[\x1b\x07\u202e]/;

const tmp = tempDir('pilot-a5-remote-');
const registry = createRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false, logger: silentLogger });
let daemon: CliProcess;
let driver: Driver;
let listener: Listener;
let nodeId = 0;
let reply = '';
const sock = join(tmp.dir, 'd.sock');
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: sock });

/** Answer every data-exchange frame with one TEXT frame holding `reply`. */
async function serve(): Promise<void> {
  for (;;) {
    const s = await listener.accept().catch(() => null);
    if (!s) return;
    s.on('error', () => {});
    s.once('data', () => {
      const p = Buffer.from(reply);
      const h = Buffer.alloc(8);
      h.writeUInt32BE(1, 0);
      h.writeUInt32BE(p.length, 4);
      s.end(Buffer.concat([h, p]));
    });
  }
}

beforeAll(async () => {
  const a = await registry.listen();
  // The daemon's own data exchange is off, so this test's server takes port 1001.
  daemon = await spawnCli(
    [
      'daemon',
      '--registry',
      `${a.host}:${a.port}`,
      '--listen',
      '127.0.0.1:0',
      '--identity',
      join(tmp.dir, 'id.json'),
      '--no-dataexchange',
      '--log-level',
      'warn',
      '--json',
    ],
    { env },
  );
  const line = await daemon.waitFor(/^\{"status":"ok".*\}$/m);
  nodeId = (JSON.parse(line[0]) as { data: { node_id: number } }).data.node_id;
  driver = await connect(sock);
  listener = await driver.listen(1001);
  void serve();
});

afterAll(async () => {
  await listener?.close().catch(() => {});
  await driver?.close().catch(() => {});
  await daemon?.stop();
  await registry.close();
  tmp.cleanup();
});

describe('text from a remote', () => {
  it('an ERR reply is shown with its control characters escaped (and unchanged with --json)', async () => {
    reply = `ERR ${HOSTILE}`;
    const text = await runCli(['send-message', String(nodeId), '--data', 'hi'], { env });
    expect(text.code).toBe(1);
    expect(text.stderr).toContain('error: the remote could not save it: ERR \\x1b[2J');
    expect(text.stderr).not.toMatch(RAW);
    const json = errorEnvelope(
      await runCli(['send-message', String(nodeId), '--data', 'hi', '--json'], { env }),
    );
    expect(json.message).toContain(HOSTILE);
  });

  it('an ACK is shown escaped too', async () => {
    reply = `ACK ${HOSTILE}`;
    const text = await runCli(['send-message', String(nodeId), '--data', 'hi'], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('ACK \\x1b[2J');
    expect(text.stdout).not.toMatch(RAW);
    const json = okData<{ ack: string }>(
      await runCli(['send-message', String(nodeId), '--data', 'hi', '--json'], { env }),
    );
    expect(json.ack).toBe(`ACK ${HOSTILE}`);
  });

  it('pilot listen shows a datagram’s text escaped (one line per datagram)', async () => {
    const listen = await spawnCli(['listen', '4242', '--count', '1', '--timeout', '20s'], { env });
    await listen.waitFor(/listening for datagrams on port 4242/);
    await driver.sendDatagram(makeAddr(0, nodeId), 4242, Buffer.from(`hi${HOSTILE}\n[forged] line`));
    const r = await listen.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hi\\x1b[2J');
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
  });

  it('error messages and hints keep their line breaks but lose the rest', () => {
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (d: Buffer) => (text += d.toString()));
    const out = new Output({ stdout: new PassThrough(), stderr, stdin: new PassThrough(), env: {} }, false);
    out.error(new CliError('internal', `line one${HOSTILE}\nline two`, { hint: `see ${HOSTILE}` }));
    expect(text).toBe(
      'error: line one\\x1b[2J\\x1b]0;owned\\x07\\u202e\nline two\nhint: see \\x1b[2J\\x1b]0;owned\\x07\\u202e\n',
    );
  });
});
