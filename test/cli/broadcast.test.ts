/**
 * `pilot broadcast <network> <port> --data`: a datagram to the network's broadcast address. A pilot daemon
 * refuses it as the reference does (custom networks are WIP); bad arguments are usage errors before any IPC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorEnvelope, runCli, startLoneDaemon, type LoneDaemon } from './helpers.js';

let d: LoneDaemon;

beforeAll(async () => {
  d = await startLoneDaemon('pilot-broadcast-');
}, 30_000);
afterAll(async () => {
  await d?.stop();
});

describe('pilot broadcast', () => {
  it('is refused by the daemon with the reference’s text and a hint', async () => {
    const r = await runCli(['--json', 'broadcast', '0', '7', '--data', 'hello'], { env: d.env });
    const e = errorEnvelope(r);
    expect(e.code).toBe('unavailable');
    expect(e.message).toBe('broadcast is not available — custom networks are WIP');
    expect(e.hint).toContain('send-datagram');
    expect(r.stdout).toBe('');
  });

  it('checks its arguments first', async () => {
    for (const args of [
      ['broadcast', '70000', '7', '--data', 'x'],
      ['broadcast', '-1', '7', '--data', 'x'],
      ['broadcast', '0x10', '7', '--data', 'x'],
      ['broadcast', '0', '70000', '--data', 'x'],
      ['broadcast', '0', '7'],
    ]) {
      const e = errorEnvelope(await runCli(['--json', ...args], { env: d.env }));
      expect(e.code, args.join(' ')).toBe('invalid_argument');
    }
  });
});
