/**
 * The client processes' V8 tuning (cmd/client-jit.ts) and the hook the executable applies it through:
 * `main()` names the command about to run, and only commands that talk to a daemon are clients.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLIENT_INTERRUPT_BUDGET, tuneClientJit } from '../../cmd/client-jit.js';
import type { CommandSpec } from '../../cmd/command-spec.js';
import { main } from '../../cmd/main.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function io(): { stdout: PassThrough; stderr: PassThrough; stdin: PassThrough; env: NodeJS.ProcessEnv } {
  const sink = (): PassThrough => new PassThrough().resume();
  return {
    stdout: sink(),
    stderr: sink(),
    stdin: new PassThrough(),
    env: { PILOT_HOME: join(tmp.dir, 'home'), PILOT_SOCKET: join(tmp.dir, 'none.sock') },
  };
}

describe('client JIT tuning', () => {
  const saved = [...process.execArgv];
  afterEach(() => {
    process.execArgv.splice(0, process.execArgv.length, ...saved);
  });

  it('raises the interrupt budget above V8 default', () => {
    expect(CLIENT_INTERRUPT_BUDGET).toBe(8 * 67_584);
    expect(tuneClientJit()).toBe(true);
    expect(tuneClientJit()).toBe(true);
  });

  it('keeps a budget given to node explicitly (either spelling)', () => {
    process.execArgv.push('--interrupt-budget=1000');
    expect(tuneClientJit()).toBe(false);
    process.execArgv.splice(0, process.execArgv.length, ...saved, '--interrupt_budget', '1000');
    expect(tuneClientJit()).toBe(false);
  });
});

describe('main() beforeRun', () => {
  it('names a daemon client command before it runs, and the foreground daemon is not one', async () => {
    const seen: CommandSpec[] = [];
    const code = await main(['--json', 'info'], {
      io: io(),
      handleSignals: false,
      beforeRun: (s) => seen.push(s),
    });
    expect(code).toBe(1); // no daemon on that socket
    expect(seen.map((s) => [s.name, s.daemon === true])).toEqual([['info', true]]);

    seen.length = 0;
    expect(
      await main(['--json', 'context'], { io: io(), handleSignals: false, beforeRun: (s) => seen.push(s) }),
    ).toBe(0);
    expect(seen.map((s) => [s.name, s.daemon === true])).toEqual([['context', false]]);
  });

  it('is not called for a command line that does not parse', async () => {
    const seen: CommandSpec[] = [];
    const code = await main(['--json', 'ping'], {
      io: io(),
      handleSignals: false,
      beforeRun: (s) => seen.push(s),
    });
    expect(code).toBe(1);
    expect(seen).toEqual([]);
  });
});
