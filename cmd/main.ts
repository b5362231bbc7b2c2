/**
 * `main(argv)`: the whole `pilot` command line. Takes `--json` out of argv (it is valid anywhere), delegates
 * `pilot registry` / `pilot beacon` to their servers' CLIs, parses the rest with commander and runs the
 * command. Resolves the exit code: 0 ok, 1 error, 2 usage error without `--json` (reference §13).
 */
import { CommanderError } from 'commander';
import { CommandContext } from './command-context.js';
import type { CommandSpec } from './command-spec.js';
import { allCommands } from './commands/index.js';
import { CliError, UsageError, toCliError } from './errors.js';
import { Output, type CliIo } from './output.js';
import { buildProgram, oppositeFlag } from './program.js';

export interface MainOptions {
  io?: CliIo;
  /** Script and node flags used to re-spawn `pilot daemon` (default: this process's). */
  self?: { script: string; execArgv: readonly string[] };
  /** Install SIGINT/SIGTERM handlers that abort the running command (default true). */
  handleSignals?: boolean;
  /** Called with the command about to run, after its arguments parsed (the executable tunes V8 here). */
  beforeRun?: (spec: CommandSpec) => void;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/** Long flags that may also be written with one dash, as Go's flag package allows (`-count 3`). */
function longFlagNames(specs: readonly CommandSpec[]): Set<string> {
  const names = new Set(['socket', 'json', 'help']);
  for (const s of specs) {
    for (const f of s.flags ?? []) {
      names.add(f.name);
      if (f.type === 'bool') names.add(oppositeFlag(f.name));
    }
  }
  return names;
}

/** Boolean flags and their (hidden) opposites: the names that take Go's `--flag=true|false`. */
function boolFlagNames(specs: readonly CommandSpec[]): Set<string> {
  const names = new Set<string>();
  for (const s of specs) {
    for (const f of s.flags ?? []) {
      if (f.type !== 'bool') continue;
      names.add(f.name);
      names.add(oppositeFlag(f.name));
    }
  }
  return names;
}

/** Go's strconv.ParseBool, which the reference's `-flag=value` takes. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * `-count 3` → `--count 3` for known long flags, and a boolean flag given a value as Go allows
 * (`--public=false`, `-encrypt=false`) → `--public` / `--no-public`, `--encrypt` / `--no-encrypt`.
 * A boolean flag with a value that is not a boolean is a UsageError.
 */
function normalizeArgv(
  argv: readonly string[],
  names: ReadonlySet<string>,
  bools: ReadonlySet<string>,
): string[] {
  return argv.map((a) => {
    const m = /^-([a-z][a-z0-9-]+)(=.*)?$/.exec(a);
    const arg = m && names.has(m[1]) ? `-${a}` : a;
    const b = /^--([a-z][a-z0-9-]+)=(.*)$/s.exec(arg);
    if (!b || !bools.has(b[1])) return arg;
    if (GO_TRUE.has(b[2])) return `--${b[1]}`;
    if (GO_FALSE.has(b[2])) return `--${oppositeFlag(b[1])}`;
    throw new UsageError(`option '--${b[1]}' takes no value or a boolean (true or false), got "${b[2]}"`);
  });
}

/** Take the global flags (`--json`, `--socket <path>`), valid anywhere in argv, out of it. */
function takeGlobals(argv: readonly string[]): { rest: string[]; socket: string | undefined } {
  const rest: string[] = [];
  let socket: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') continue;
    if (a === '--socket') {
      if (i + 1 >= argv.length || argv[i + 1] === '')
        throw new UsageError("option '--socket <path>' argument missing");
      socket = argv[++i];
    } else if (a.startsWith('--socket=')) {
      socket = a.slice('--socket='.length);
      if (socket === '') throw new UsageError("option '--socket <path>' argument missing");
    } else rest.push(a);
  }
  return { rest, socket };
}

/** Run the CLI; resolves the exit code. Calls process.exit only on a second SIGINT/SIGTERM (handleSignals). */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const io = options.io ?? processIo();
  const specs = allCommands;
  const json = argv.includes('--json') || argv.includes('-json');
  const out = new Output(io, json);
  let rest: string[];
  let socket: string | undefined;
  try {
    const normalized = normalizeArgv(argv, longFlagNames(specs), boolFlagNames(specs));
    ({ rest, socket } = takeGlobals(normalized));
  } catch (err) {
    const e = toCliError(err);
    out.error(e);
    return json ? 1 : e.exitCode;
  }

  // Servers with their own command lines.
  // Their code (and the library root's) loads only when they run: other commands start faster without it.
  if (rest[0] === 'registry') {
    const { runRegistryCli } = await import('../src/index.js');
    return runRegistryCli(rest.slice(1), { stdout: io.stdout, stderr: io.stderr });
  }
  if (rest[0] === 'beacon') {
    const { RegistryClient, runBeaconCli } = await import('../src/index.js');
    return runBeaconCli(rest.slice(1), {
      stdout: io.stdout,
      stderr: io.stderr,
      createRegistry: (addr) => new RegistryClient({ addr }),
    });
  }

  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) abort.abort(new CliError('internal', `interrupted by ${sig}`));
    // A second signal while the command is still winding down: give up at once.
    else process.exit(130);
  };
  if (options.handleSignals !== false) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  let ctx: CommandContext | null = null;
  const program = buildProgram({
    io,
    specs,
    argv: rest,
    json,
    run: async (spec, input) => {
      options.beforeRun?.(spec);
      ctx = new CommandContext({ out, socket, signal: abort.signal, self: options.self });
      const data = await spec.run(ctx, input);
      if (data !== undefined) out.ok(data, spec.text);
    },
  });

  try {
    if (rest.length === 0) {
      if (json) throw new UsageError('no command given', { hint: 'run `pilot --help` or `pilot context`' });
      io.stderr.write(program.helpInformation());
      return 2;
    }
    await program.parseAsync([...rest], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err, out, program.helpInformation(), rest[0]);
    const e = toCliError(err);
    out.error(e);
    return json ? 1 : e.exitCode;
  } finally {
    if (options.handleSignals !== false) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await (ctx as CommandContext | null)?.close();
  }
}

/** Exit code (and message) for a commander parse outcome. */
function commanderExit(err: CommanderError, out: Output, usage: string, command: string): number {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
  const message =
    err.code === 'commander.help' ? `'${command}' needs a subcommand` : err.message.replace(/^error:\s*/, '');
  if (out.json) {
    out.error(new UsageError(message, { hint: 'run `pilot context` for the list of commands and flags' }));
    return 1;
  }
  if (err.code === 'commander.help') return 2; // a group without its subcommand: help already on stderr
  out.error(new UsageError(message, { hint: 'run `pilot <command> --help`' }));
  if (err.code === 'commander.unknownCommand') out.io.stderr.write(`\n${usage}`);
  return 2;
}
