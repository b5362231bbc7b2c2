/** `pilot registry` (runRegistryCli): listens on the given address, logs it, stops on signal, saves on exit. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runRegistryCli } from '../../src/registry/cli.js';
import { RegistryClient, type RegistryServer } from '../../src/registry/index.js';
import { makeIdentity } from './helpers.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-cli-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('runRegistryCli', () => {
  it('runs until aborted, prints the address, and saves the store on the way out', async () => {
    const dir = await tempDir();
    const store = join(dir, 'registry.json');
    const out = capture();
    const err = capture();
    const ac = new AbortController();
    let server: RegistryServer | undefined;
    const done = runRegistryCli(
      ['-addr', '127.0.0.1:0', '--store', store, '--save-debounce', '60000', '--tls'],
      {
        stdout: out.stream,
        stderr: err.stream,
        signal: ac.signal,
        onListening: (s) => (server = s),
      },
    );
    await expect
      .poll(() => out.text(), { timeout: 10_000 })
      .toMatch(/registry listening on 127\.0\.0\.1:\d+/);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(out.text())?.[1]);
    expect(port).toBeGreaterThan(0);
    const fp = /fingerprint ([0-9a-f]{64})/.exec(out.text())?.[1];
    expect(fp).toBe(server?.fingerprint);
    const id = makeIdentity();
    const c = new RegistryClient({ host: '127.0.0.1', port, signer: id, tls: { fingerprint: fp as string } });
    expect((await c.register({ hostname: 'cli' })).node_id).toBe(1);
    c.close();
    ac.abort();
    expect(await done).toBe(0);
    expect(out.text()).toMatch(/registry stopped/);
    const saved = JSON.parse(await readFile(store, 'utf8')) as {
      nodes: Record<string, { hostname: string }>;
    };
    expect(saved.nodes['1'].hostname).toBe('cli');
  });

  it('rejects bad arguments (exit 2) and reports start-up failures (exit 1)', async () => {
    const err = capture();
    expect(
      await runRegistryCli(['--addr', 'nonsense'], { stdout: new PassThrough(), stderr: err.stream }),
    ).toBe(2);
    expect(err.text()).toMatch(/host:port/);
    expect(await runRegistryCli(['--bogus'], { stdout: new PassThrough(), stderr: new PassThrough() })).toBe(
      2,
    );
    const dir = await tempDir();
    const store = join(dir, 'bad.json');
    await writeFile(store, '{broken');
    const err2 = capture();
    const code = await runRegistryCli(['--addr', '127.0.0.1:0', '--store', store], {
      stdout: new PassThrough(),
      stderr: err2.stream,
    });
    expect(code).toBe(1);
    expect(err2.text()).toMatch(/ERR_REGISTRY_STORE_CORRUPT/);
  });

  it('prints help with exit 0', async () => {
    const out = capture();
    expect(await runRegistryCli(['--help'], { stdout: out.stream, stderr: new PassThrough() })).toBe(0);
    expect(out.text()).toMatch(/--replication-token/);
  });
});
