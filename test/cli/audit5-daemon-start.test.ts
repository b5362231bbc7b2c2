/**
 * `pilot daemon start` with start's own flags in forms the parser accepts: `--foreground=false` (Go syntax, which
 * becomes `--no-foreground`) must not reach the forked `pilot daemon`, which does not know it; and `--timeout 0`
 * means no time limit, as for every other command, not a time-out before the child could answer.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, silentLogger } from '../../src/index.js';
import { baseEnv, cliBundle, okData, runCli, tempDir } from './helpers.js';

const tmp = tempDir('pilot-a5-start-');
const registry = createRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false, logger: silentLogger });
let regAddr = '';

beforeAll(async () => {
  await cliBundle();
  const a = await registry.listen();
  regAddr = `${a.host}:${a.port}`;
});

afterAll(async () => {
  await registry.close();
  tmp.cleanup();
});

/** Start a background daemon in its own home with `extra` flags; stops it again and returns the start's data. */
async function startAndStop(name: string, extra: readonly string[]): Promise<Record<string, unknown>> {
  const home = join(tmp.dir, name);
  const sock = join(tmp.dir, `${name}.sock`);
  const env = baseEnv({ PILOT_HOME: home, PILOT_SOCKET: sock });
  const start = await runCli(
    [
      'daemon',
      'start',
      '--registry',
      regAddr,
      '--listen',
      '127.0.0.1:0',
      '--log-level',
      'warn',
      ...extra,
      '--json',
    ],
    { env, timeoutMs: 30_000 },
  );
  try {
    const data = okData(start);
    const status = okData<{ responsive: boolean }>(await runCli(['daemon', 'status', '--json'], { env }));
    expect(status.responsive).toBe(true);
    return data;
  } finally {
    // Whatever happened above, leave no daemon behind (not_running when none was started).
    await runCli(['daemon', 'stop', '--json'], { env });
  }
}

describe('pilot daemon start', () => {
  it('--foreground=false starts the background daemon (the flag is start’s, not passed to the child)', async () => {
    const d = await startAndStop('nofg', ['--foreground=false']);
    expect(d.node_id).toEqual(expect.any(Number));
  });

  it('--no-foreground starts the background daemon', async () => {
    const d = await startAndStop('nofg2', ['--no-foreground']);
    expect(d.node_id).toEqual(expect.any(Number));
  });

  it('--timeout 0 waits without a time limit instead of failing at once', async () => {
    const d = await startAndStop('t0', ['--timeout', '0']);
    expect(d.node_id).toEqual(expect.any(Number));
  });
});
