/**
 * Driver requests against a daemon that accepted the connection but does not answer (stopped, wedged): every
 * request has a time limit (`requestTimeoutMs`, or the call's `timeoutMs`) and takes an AbortSignal, so a call
 * never waits forever; the connection stays usable and replies that arrive late do not shift later replies.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { isPilotError } from '../../src/coreapi/errors.js';
import { Cmd } from '../../src/ipc/constants.js';
import { connect, DEFAULT_REQUEST_TIMEOUT_MS, type Driver } from '../../src/ipc/index.js';
import { encodeFrame } from '../../src/ipc/protocol.js';
import { startMuteDaemon, type MuteDaemon } from './mute-daemon.js';

async function mute(onMessage?: Parameters<typeof startMuteDaemon>[0]): Promise<MuteDaemon> {
  const d = await startMuteDaemon(onMessage);
  onTestFinished(() => d.close());
  return d;
}

async function open(d: MuteDaemon, requestTimeoutMs?: number): Promise<Driver> {
  const driver = await connect(d.socketPath, { requestTimeoutMs });
  onTestFinished(() => driver.close());
  expect(driver.extended).toBe(true);
  return driver;
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (err: Error) => err,
  );
}

describe('driver request time limits', () => {
  it('has a default time limit of 30 s', () => {
    expect(DEFAULT_REQUEST_TIMEOUT_MS).toBe(30_000);
  });

  it('a request the daemon never answers rejects ERR_IPC_TIMEOUT after requestTimeoutMs', async () => {
    const d = await mute();
    const driver = await open(d, 200);
    const started = Date.now();
    const err = await rejection(driver.info());
    expect(err.code).toBe('ERR_IPC_TIMEOUT');
    expect(isPilotError(err, 'ERR_IPC_TIMEOUT')).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(d.received).toContain(Cmd.Info);
    expect(driver.connected).toBe(true); // a slow daemon is not a lost one
  }, 10_000);

  it.each([
    ['resolveHostname', (dr: Driver) => dr.resolveHostname('somehost'), Cmd.ResolveHostname],
    ['trustedPeers', (dr: Driver) => dr.trustedPeers(), Cmd.Handshake],
    ['listen', (dr: Driver) => dr.listen(1000), Cmd.Bind],
    ['bindDatagram', (dr: Driver) => dr.bindDatagram(5000), Cmd.BindDatagram],
    ['disconnect', (dr: Driver) => dr.disconnect(7), Cmd.Close],
  ] as const)(
    '%s is bounded by the time limit too',
    async (_name, call, cmd) => {
      const d = await mute();
      const driver = await open(d, 150);
      const err = await rejection(call(driver));
      expect(err.code).toBe('ERR_IPC_TIMEOUT');
      expect(d.received).toContain(cmd);
    },
    10_000,
  );

  it("a call's timeoutMs overrides the driver's limit", async () => {
    const d = await mute();
    const driver = await open(d); // default: 30 s
    const err = await rejection(driver.setHostname('me', { timeoutMs: 100 }));
    expect(err.code).toBe('ERR_IPC_TIMEOUT');
  }, 10_000);

  it("a call's signal abandons it with ERR_ABORTED", async () => {
    const d = await mute();
    const driver = await open(d);
    const ac = new AbortController();
    const pending = rejection(driver.info({ signal: ac.signal }));
    await d.message(Cmd.Info);
    ac.abort();
    expect((await pending).code).toBe('ERR_ABORTED');

    const aborted = AbortSignal.abort();
    expect((await rejection(driver.listen(1000, { signal: aborted }))).code).toBe('ERR_ABORTED');
    // The port was not taken locally by the failed listen.
    expect((await rejection(driver.listen(1000, { timeoutMs: 100 }))).code).toBe('ERR_IPC_TIMEOUT');
  }, 10_000);

  it('a reply that arrives after its call timed out is not taken for the next call', async () => {
    let infos = 0;
    let wake: (() => void) | null = null;
    const d = await mute((m, sock) => {
      if (m[0] !== Cmd.Info) return;
      infos++;
      const n = infos;
      const answer = (): void => {
        sock.write(encodeFrame({ type: 'infoOK', json: { n } }));
      };
      // The first Info is answered late: once the second one arrived.
      if (n === 1) wake = answer;
      else {
        wake?.();
        answer();
      }
    });
    const driver = await open(d, 150);
    expect((await rejection(driver.info())).code).toBe('ERR_IPC_TIMEOUT');
    expect(await driver.info({ timeoutMs: 5000 })).toEqual({ n: 2 });
  }, 10_000);

  it('a Bind answered after the caller gave up releases the port again (Unbind)', async () => {
    const d = await mute();
    const driver = await open(d, 100);
    const err = await rejection(driver.listen(1000));
    expect(err.code).toBe('ERR_IPC_TIMEOUT');
    // The daemon wakes up and completes the Bind nobody waits for any more.
    const bind = await d.message(Cmd.Bind);
    expect(bind.readUInt16BE(1)).toBe(1000);
    const unbind = d.message(Cmd.Unbind);
    const [client] = d.clients();
    client.write(encodeFrame({ type: 'bindOK', port: 1000 }));
    expect((await unbind).readUInt16BE(1)).toBe(1000);
  }, 10_000);

  it('connect rejects a bad requestTimeoutMs with ERR_INVALID_ARG', async () => {
    const d = await mute();
    for (const bad of [-1, Number.NaN, '5' as unknown as number]) {
      const err = await rejection(connect(d.socketPath, { requestTimeoutMs: bad }));
      expect(err.code).toBe('ERR_INVALID_ARG');
    }
    const err = await rejection((await open(d)).info({ timeoutMs: -5 }));
    expect(err.code).toBe('ERR_INVALID_ARG');
  }, 10_000);
});
