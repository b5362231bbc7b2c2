/**
 * Audit 2: the socket file. A daemon that is alive but not accepting right now (stopped, or its accept
 * backlog full) must never lose its socket to a second daemon starting on the same path.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstatSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { createIpcServer } from '../../src/ipc/server.js';
import { FakeControl, tempSocketPath } from './helpers.js';

const NODE = makeAddr(1, 0x0a);

/** A live daemon in another process, listening on `path` with a tiny backlog, then stopped (SIGSTOP). */
async function stoppedDaemon(path: string): Promise<void> {
  const script = `require('node:net').createServer(() => {}).listen({ path: ${JSON.stringify(path)}, backlog: 1 }, () => process.stdout.write('ready\\n'));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  });
  await once(child.stdout, 'data');
  child.kill('SIGSTOP');
}

/** Connect until the kernel refuses for a full backlog (EAGAIN); returns the error code seen. */
async function fillBacklog(path: string): Promise<string> {
  const socks: Socket[] = [];
  onTestFinished(() => socks.forEach((s) => s.destroy()));
  for (let i = 0; i < 64; i++) {
    const s = netConnect({ path });
    socks.push(s);
    const code = await new Promise<string | null>((resolve) => {
      s.once('connect', () => resolve(null));
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    if (code !== null) return code;
  }
  return 'none';
}

describe('IPC socket file, a live daemon that is not accepting', () => {
  it('is not replaced when its accept backlog is full (EAGAIN is not "stale")', async () => {
    const path = tempSocketPath();
    await stoppedDaemon(path);
    expect(await fillBacklog(path)).toBe('EAGAIN');
    const ino = lstatSync(path).ino;
    const net = createMemoryNetwork();
    onTestFinished(() => net.close());
    const control = new FakeControl(NODE);
    const started = createIpcServer({ socketPath: path, streams: net.node(NODE), control });
    const result = await started.then(
      async (server) => {
        await server.close();
        return 'started';
      },
      (err: { code?: string }) => err.code,
    );
    expect(result).toBe('ERR_IPC_SOCKET_IN_USE');
    // The live daemon's socket file is still there, untouched.
    expect(lstatSync(path).ino).toBe(ino);
  });
});

describe('IPC socket file, two daemons starting at once on one path', () => {
  it('only one of them gets the path; the other is refused and the winner stays reachable', async () => {
    const path = tempSocketPath();
    const net = createMemoryNetwork();
    onTestFinished(() => net.close());
    const starts = [makeAddr(1, 0x0a), makeAddr(1, 0x0b)].map((addr) =>
      createIpcServer({ socketPath: path, streams: net.node(addr), control: new FakeControl(addr) }),
    );
    const results = await Promise.allSettled(starts);
    for (const r of results) if (r.status === 'fulfilled') onTestFinished(() => r.value.close());
    const started = results.filter((r) => r.status === 'fulfilled');
    expect(started).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected');
    expect((refused as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_IPC_SOCKET_IN_USE' });
    // The file on the path is the winner's: a client reaches it.
    const winner = (started[0] as PromiseFulfilledResult<Awaited<(typeof starts)[0]>>).value;
    const s = netConnect({ path });
    onTestFinished(() => {
      s.destroy();
    });
    await once(s, 'connect');
    await expect.poll(() => winner.clientCount).toBe(1);
  });
});
