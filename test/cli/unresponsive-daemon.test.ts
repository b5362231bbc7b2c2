/**
 * The `pilot` CLI against a daemon that accepts the IPC connection but never answers (SIGSTOPped, wedged) or
 * goes away while a command waits: commands end with an error (`timeout`, `not_running`) instead of hanging or
 * reporting success. The daemon is a fake speaking the real IPC framing on a real Unix socket.
 */
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Cmd } from '../../src/ipc/constants.js';
import { encodeFrame } from '../../src/ipc/protocol.js';
import { startMuteDaemon, type MuteDaemon } from '../ipc/mute-daemon.js';
import { baseEnv, cliBundle, errorEnvelope, runCli, type CliResult } from './helpers.js';

beforeAll(async () => {
  await cliBundle();
});

async function mute(onMessage?: Parameters<typeof startMuteDaemon>[0]): Promise<MuteDaemon> {
  const d = await startMuteDaemon(onMessage);
  onTestFinished(() => d.close());
  return d;
}

/** `pilot <args> --json --socket <daemon>`; a CLI still running after 10 s is killed (and fails the test). */
async function pilot(d: MuteDaemon, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const started = Date.now();
  const r = await runCli([...args, '--json', '--socket', d.socketPath], {
    env: baseEnv({ PILOT_HOME: d.dir, ...env }),
    timeoutMs: 10_000,
  });
  if (r.signal !== null)
    throw new Error(`pilot ${args.join(' ')} still running after ${Date.now() - started} ms`);
  return r;
}

describe('CLI against a daemon that never answers', () => {
  it('pilot info fails with `timeout` once the IPC time limit (PILOT_IPC_TIMEOUT) runs out', async () => {
    const d = await mute();
    const r = await pilot(d, ['info'], { PILOT_IPC_TIMEOUT: '300ms' });
    expect(d.received).toContain(Cmd.Info);
    const e = errorEnvelope(r);
    expect(e.code).toBe('timeout');
    expect(e.hint).toMatch(/did not answer/);
    expect(r.stdout).toBe('');
  }, 20_000);

  it('send-message <hostname> --timeout bounds the hostname resolution', async () => {
    const d = await mute();
    const started = Date.now();
    const r = await pilot(d, ['send-message', 'somehost', '--data', 'hi', '--timeout', '500ms']);
    expect(d.received).toContain(Cmd.ResolveHostname);
    expect(errorEnvelope(r).code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 20_000);

  it('recv --timeout bounds binding the port', async () => {
    const d = await mute();
    const r = await pilot(d, ['recv', '5000', '--timeout', '500ms']);
    expect(d.received).toContain(Cmd.Bind);
    expect(errorEnvelope(r).code).toBe('timeout');
  }, 20_000);

  it('a bad PILOT_IPC_TIMEOUT is an invalid_argument', async () => {
    const d = await mute();
    const r = await pilot(d, ['info'], { PILOT_IPC_TIMEOUT: 'soon' });
    expect(errorEnvelope(r).code).toBe('invalid_argument');
  }, 20_000);
});

describe('CLI when the daemon goes away', () => {
  it('pilot recv reports the lost daemon as not_running, not as a time-out success', async () => {
    // Answers Bind, then drops the client (a crash, or `pilot daemon stop` while recv waits).
    const d = await mute((m, sock) => {
      if (m[0] === Cmd.Bind) sock.end(encodeFrame({ type: 'bindOK', port: m.readUInt16BE(1) }));
    });
    const started = Date.now();
    const r = await pilot(d, ['recv', '5000', '--timeout', '20s']);
    expect(d.received).toContain(Cmd.Bind);
    expect(r.stdout).toBe('');
    expect(errorEnvelope(r).code).toBe('not_running');
    expect(Date.now() - started).toBeLessThan(8_000); // at once, not after its 20 s limit
  }, 20_000);

  it('pilot listen --count reports the lost daemon as not_running', async () => {
    const d = await mute((m, sock) => {
      if (m[0] === Cmd.BindDatagram)
        sock.end(encodeFrame({ type: 'bindDatagramOK', port: m.readUInt16BE(1) }));
    });
    const r = await pilot(d, ['listen', '5000', '--count', '1', '--timeout', '20s']);
    expect(d.received).toContain(Cmd.BindDatagram);
    expect(r.stdout).toBe('');
    expect(errorEnvelope(r).code).toBe('not_running');
  }, 20_000);
});
