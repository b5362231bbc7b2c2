/**
 * Audit of Ctrl-C (SIGINT/SIGTERM) while a `pilot` command waits on the daemon: the command ends at once and
 * reports the interrupt, not a `timeout` it never ran into. The daemon is a fake that accepts the IPC
 * connection and answers nothing (test/ipc/mute-daemon.ts).
 */
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Cmd } from '../../src/ipc/constants.js';
import { startMuteDaemon, type MuteDaemon } from '../ipc/mute-daemon.js';
import { baseEnv, cliBundle, errorEnvelope, spawnCli } from './helpers.js';

beforeAll(async () => {
  await cliBundle();
});

async function mute(): Promise<MuteDaemon> {
  const d = await startMuteDaemon();
  onTestFinished(() => d.close());
  return d;
}

describe('interrupting a command that waits on the daemon', () => {
  for (const { name, args, cmd, signal } of [
    { name: 'info', args: ['info'], cmd: Cmd.Info, signal: 'SIGINT' as const },
    { name: 'find', args: ['find', 'somehost'], cmd: Cmd.ResolveHostname, signal: 'SIGTERM' as const },
    {
      name: 'send-message',
      args: ['send-message', 'somehost', '--data', 'hi'],
      cmd: Cmd.ResolveHostname,
      signal: 'SIGINT' as const,
    },
  ]) {
    it(`${name}: ${signal} ends it with the interrupt, not \`timeout\``, async () => {
      const d = await mute();
      const p = await spawnCli([...args, '--json', '--socket', d.socketPath], {
        env: baseEnv({ PILOT_HOME: d.dir }),
      });
      onTestFinished(() => p.kill('SIGKILL'));
      await d.message(cmd); // the CLI is now waiting for the daemon's answer
      p.kill(signal);
      const r = await p.done;
      const e = errorEnvelope(r);
      expect(e.code).not.toBe('timeout');
      expect(e.message).toBe(`interrupted by ${signal}`);
      expect(r.stdout).toBe('');
    }, 15_000);
  }
});
