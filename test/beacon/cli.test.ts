import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BeaconMsgType, encodeDiscover, runBeaconCli, type Beacon } from '../../src/beacon/index.js';
import { udpWithInbox, waitFor } from './util.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let buf = '';
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
  });
  return { stream, text: () => buf };
}

describe('pilot beacon (runBeaconCli)', () => {
  it('binds, logs the bound address, serves, and stops on abort with exit code 0', async () => {
    const out = capture();
    const err = capture();
    const ac = new AbortController();
    let started: Beacon | null = null;
    const done = runBeaconCli(
      ['--addr', '127.0.0.1:0', '--beacon-id', '7', '--health', '127.0.0.1:0', '--log-format', 'json'],
      {
        signal: ac.signal,
        stdout: out.stream,
        stderr: err.stream,
        handleSignals: false,
        onListening: (b) => {
          started = b;
        },
      },
    );
    await waitFor(() => /beacon listening on udp 127\.0\.0\.1:\d+/.test(out.text()), 5000, 'listening log');
    const port = Number(/udp 127\.0\.0\.1:(\d+)/.exec(out.text())?.[1]);
    expect(started).not.toBeNull();
    expect((started as unknown as Beacon).beaconId).toBe(7);
    const line = JSON.parse(out.text().split('\n')[0]) as { addr: string; msg: string };
    expect(line.addr).toBe(`127.0.0.1:${port}`);

    const c = await udpWithInbox();
    c.sock.send(encodeDiscover(1), port, '127.0.0.1');
    await c.inbox.nextType(BeaconMsgType.DiscoverReply);

    ac.abort();
    expect(await done).toBe(0);
    expect(err.text()).toBe('');
  });

  it('bad arguments → exit code 2 with a message on stderr', async () => {
    for (const argv of [
      ['--addr', 'nonsense'],
      ['--beacon-id', '-3'],
      ['--peers', '127.0.0.1'],
      ['--log-level', 'loud'],
      ['--registry', '127.0.0.1:9000'],
      ['--no-such-flag'],
    ]) {
      const err = capture();
      const code = await runBeaconCli(argv, {
        stdout: capture().stream,
        stderr: err.stream,
        handleSignals: false,
      });
      expect(code, argv.join(' ')).toBe(2);
      expect(err.text().length, argv.join(' ')).toBeGreaterThan(0);
    }
  });

  it('--help prints usage and exits 0', async () => {
    const out = capture();
    const code = await runBeaconCli(['--help'], { stdout: out.stream, stderr: capture().stream });
    expect(code).toBe(0);
    expect(out.text()).toContain('--beacon-id');
  });

  it('a port in use → exit code 1', async () => {
    const taken = await udpWithInbox();
    const err = capture();
    const code = await runBeaconCli(['--addr', `127.0.0.1:${taken.port}`], {
      stdout: capture().stream,
      stderr: err.stream,
      handleSignals: false,
    });
    expect(code).toBe(1);
    expect(err.text()).toContain('ERR_BEACON_BIND');
  });

  it('--registry uses the injected registry client', async () => {
    const ac = new AbortController();
    const registered: string[] = [];
    const done = runBeaconCli(['--addr', '127.0.0.1:0', '--beacon-id', '3', '--registry', '127.0.0.1:9000'], {
      signal: ac.signal,
      stdout: capture().stream,
      stderr: capture().stream,
      handleSignals: false,
      createRegistry: (addr) => ({
        beaconRegister: async (id, a) => {
          registered.push(`${addr} ${id} ${a}`);
        },
        beaconList: async () => [],
      }),
    });
    await waitFor(() => registered.length > 0, 5000, 'registration');
    expect(registered[0]).toMatch(/^127\.0\.0\.1:9000 3 127\.0\.0\.1:\d+$/);
    ac.abort();
    expect(await done).toBe(0);
  });
});
