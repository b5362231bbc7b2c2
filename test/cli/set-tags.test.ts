/**
 * `pilot set-tags` checks tags by the registry's own rules before it contacts the daemon: a leading `#` is
 * dropped, each tag is 1-32 lowercase letters, digits and inner hyphens, at most 3 of them.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, cliBundle, errorEnvelope, runCli, tempDir } from './helpers.js';

const tmp = tempDir();
const env = baseEnv({ PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: join(tmp.dir, 'none.sock') });

beforeAll(async () => {
  await cliBundle();
});
afterAll(() => tmp.cleanup());

describe('pilot set-tags', () => {
  it.each([['Upper'], ['dot.ted'], ['a'.repeat(33)], ['-lead'], ['#']])(
    'refuses %j as invalid_argument without contacting the daemon',
    async (tag) => {
      const r = await runCli(['--json', 'set-tags', tag], { env });
      expect(r.code).toBe(1);
      expect(errorEnvelope(r)).toMatchObject({ code: 'invalid_argument' });
    },
  );

  it('takes tags the registry takes, "#" prefix included (then needs the daemon)', async () => {
    const r = await runCli(['--json', 'set-tags', '#web', 'db-1', 'x'], { env });
    expect(errorEnvelope(r)).toMatchObject({ code: 'not_running' });
  });

  it('refuses more than 3 tags', async () => {
    const r = await runCli(['--json', 'set-tags', 'a', 'b', 'c', 'd'], { env });
    expect(errorEnvelope(r)).toMatchObject({ code: 'invalid_argument' });
  });
});
