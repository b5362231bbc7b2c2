/**
 * A second SIGINT/SIGTERM while the daemon is still stopping exits at once (130), as promised. The files the
 * daemon owns go with it: the IPC socket and the pid file `daemon start` wrote. A socket file left behind
 * makes the next daemon probe it before it can start, and a stale pid file confuses `daemon status`.
 *
 * To hold the stop open, the daemon reaches its registry through a TCP relay that the test freezes once the
 * daemon is up: deregistration then waits out its 2 s timeout.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createRegistry } from '../../src/registry/index.js';
import { baseEnv, cliBundle, spawnCli, tempDir } from './helpers.js';

const tmp = tempDir('pilot-second-signal-');

beforeAll(async () => {
  await cliBundle();
});
afterAll(() => tmp.cleanup());

/** A TCP relay to `port` that stops forwarding (both ways) once frozen. */
async function relay(port: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((down) => {
    const up = connect({ host: '127.0.0.1', port });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    down.on('data', (d) => {
      if (!frozen) up.write(d);
    });
    up.on('data', (d) => {
      if (!frozen) down.write(d);
    });
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => {
      frozen = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('a second signal during a slow stop', () => {
  it('exits 130 and removes the IPC socket and the pid file', async () => {
    const registry = createRegistry({
      addr: '127.0.0.1:0',
      registrationRateLimit: false,
      logger: silentLogger,
    });
    const a = await registry.listen();
    const r = await relay(a.port);
    onTestFinished(async () => {
      await r.close();
      await registry.close();
    });
    const sock = join(tmp.dir, 'd.sock');
    const pidFile = join(tmp.dir, 'daemon.pid');
    const daemon = await spawnCli(
      [
        'daemon',
        '--registry',
        `127.0.0.1:${r.port}`,
        '--listen',
        '127.0.0.1:0',
        '--socket',
        sock,
        '--identity',
        join(tmp.dir, 'identity.json'),
        '--log-level',
        'info',
        '--json',
      ],
      // As `daemon start` runs its child: the parent wrote the pid file and names it in PILOT_PID_FILE.
      { env: baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_PID_FILE: pidFile }) },
    );
    onTestFinished(() => daemon.kill('SIGKILL'));
    writeFileSync(pidFile, `${daemon.pid}\n`);
    await daemon.waitFor(/^\{"status":"ok".*\}$/m);
    expect(existsSync(sock)).toBe(true);

    r.freeze();
    daemon.kill('SIGTERM');
    await daemon.waitFor(/stopping/);
    expect(daemon.exited).toBe(false); // deregistration is waiting on the frozen registry
    daemon.kill('SIGTERM');
    const res = await daemon.done;
    expect(res.code).toBe(130);
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
  }, 20_000);
});
