/**
 * A node's event stream serves only peers it trusts and resets anyone else's stream. `pilot publish` saw that
 * as a reset (`connection_failed`) or, when it was writing at that moment, as `internal` "connection closed",
 * depending on timing. Both commands now report `connection_failed` every time, with the trust hint.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, silentLogger } from '../../src/index.js';
import { baseEnv, errorEnvelope, okData, runCli, spawnCli, tempDir, type CliProcess } from './helpers.js';

const tmp = tempDir('pilot-a5-events-');
const registry = createRegistry({ addr: '127.0.0.1:0', registrationRateLimit: false, logger: silentLogger });
const daemons: CliProcess[] = [];
const envs: NodeJS.ProcessEnv[] = [];
const ids: number[] = [];

beforeAll(async () => {
  const a = await registry.listen();
  for (const name of ['a', 'b']) {
    const env = baseEnv({ PILOT_HOME: join(tmp.dir, name), PILOT_SOCKET: join(tmp.dir, `${name}.sock`) });
    const d = await spawnCli(
      [
        'daemon',
        '--registry',
        `${a.host}:${a.port}`,
        '--listen',
        '127.0.0.1:0',
        '--identity',
        join(tmp.dir, `${name}.json`),
        // Public, so that a can reach b at all: only b's event stream refuses it.
        '--public',
        '--log-level',
        'warn',
        '--json',
      ],
      { env },
    );
    daemons.push(d);
    const line = await d.waitFor(/^\{"status":"ok".*\}$/m);
    ids.push((JSON.parse(line[0]) as { data: { node_id: number } }).data.node_id);
    envs.push(env);
  }
});

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  await registry.close();
  tmp.cleanup();
});

describe('event stream of a node that does not trust us', () => {
  it('publish is connection_failed with the trust hint, every time', async () => {
    // Its own event stream takes it (the command works at all).
    okData(await runCli(['publish', String(ids[0]), 'news', '--data', 'x', '--json'], { env: envs[0] }));
    for (let i = 0; i < 6; i++) {
      const e = errorEnvelope(
        await runCli(['publish', String(ids[1]), 'news', '--data', `x${i}`, '--json'], { env: envs[0] }),
      );
      expect(e.code).toBe('connection_failed');
      expect(e.hint).toContain('pilot handshake');
    }
  });

  it('subscribe is connection_failed with the trust hint', async () => {
    const e = errorEnvelope(
      await runCli(['subscribe', String(ids[1]), 'news', '--count', '1', '--timeout', '10s', '--json'], {
        env: envs[0],
      }),
    );
    expect(e.code).toBe('connection_failed');
    expect(e.hint).toContain('pilot handshake');
  });
});
