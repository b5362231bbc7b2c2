/**
 * Builds the commander program from the command specs: groups (`daemon`, `plugins`), positional arguments,
 * typed flags with their parsers, help text. Parsing errors surface as CommanderError (exitOverride); the
 * caller decides how to print them.
 */
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { isPilotError, parseDuration } from '../src/client.js';
import { GROUPS, type CommandInput, type CommandSpec, type FlagSpec } from './command-spec.js';
import type { CliIo } from './output.js';

export type RunHook = (spec: CommandSpec, input: CommandInput) => Promise<void>;

const INT_RE = /^\d+$/;
const DURATION_EXPECTED = 'expected a duration like 30s, 500ms, 2m or 1.5, at most 596h.';

/** Parse one flag value from text (also used for defaults). Throws commander's InvalidArgumentError. */
export function parseFlagValue(f: FlagSpec, raw: string | number | boolean): unknown {
  if (f.type === 'bool') return raw === true || raw === 'true';
  const text = String(raw).trim();
  switch (f.type) {
    case 'int':
      if (!INT_RE.test(text) || !Number.isSafeInteger(Number(text)))
        throw new InvalidArgumentError('expected a non-negative integer.');
      return Number(text);
    case 'number': {
      const n = Number(text);
      if (text === '' || !Number.isFinite(n) || n < 0)
        throw new InvalidArgumentError('expected a number >= 0.');
      return n;
    }
    case 'duration':
      // parseDuration also refuses what a timer cannot hold (it would fire at once, and Node warn on stderr).
      try {
        return parseDuration(text, f.name);
      } catch (err) {
        if (isPilotError(err)) throw new InvalidArgumentError(DURATION_EXPECTED);
        throw err;
      }
    case 'list':
      return text
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
    default:
      if (f.choices && !f.choices.includes(text))
        throw new InvalidArgumentError(`allowed: ${f.choices.join(', ')}.`);
      return String(raw);
  }
}

function makeOption(f: FlagSpec): Option {
  const desc = f.default === undefined ? f.description : `${f.description} (default: ${String(f.default)})`;
  if (f.type === 'bool') return new Option(`--${f.name}`, desc);
  const placeholder =
    f.placeholder ?? (f.choices ? f.choices.join('|') : f.type === 'duration' ? 'dur' : f.type);
  const opt = new Option(`--${f.name} <${placeholder}>`, desc);
  if (f.type === 'list') {
    // Repeated list flags accumulate: --tag a --tag b == --tag a,b
    return opt.argParser((v: string, prev: unknown) => [
      ...(Array.isArray(prev) ? (prev as string[]) : []),
      ...(parseFlagValue(f, v) as string[]),
    ]);
  }
  return opt.argParser((v: string) => parseFlagValue(f, v));
}

/** `public` → `no-public`, `no-encrypt` → `encrypt`. */
export function oppositeFlag(name: string): string {
  return name.startsWith('no-') ? name.slice(3) : `no-${name}`;
}

function attributeName(f: FlagSpec): string {
  return new Option(`--${f.name}`).attributeName();
}

/** The typed input of a command from commander's parse state. */
function collectInput(spec: CommandSpec, cmd: Command, argv: readonly string[]): CommandInput {
  const args: Record<string, string | string[] | undefined> = {};
  (spec.args ?? []).forEach((a, i) => {
    args[a.name] = cmd.processedArgs[i] as string | string[] | undefined;
  });
  const flags: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const f of spec.flags ?? []) {
    const attr = attributeName(f);
    const source = cmd.getOptionValueSource(attr);
    const value: unknown = cmd.getOptionValue(attr);
    if (source === 'cli' && value !== undefined) {
      given.add(f.name);
      // `--no-x` sets attribute `x` to false; the spec's flag `no-x` is then true.
      flags[f.name] =
        f.type === 'bool' ? (f.name.startsWith('no-') ? value === false : value === true) : value;
    } else if (f.default !== undefined) {
      flags[f.name] = parseFlagValue(f, f.default);
    } else if (f.type === 'bool') {
      flags[f.name] = false;
    }
  }
  return { args, flags, given, argv };
}

export interface ProgramOptions {
  io: CliIo;
  specs: readonly CommandSpec[];
  /** argv as parsed (after `--json` was taken out), handed to commands. */
  argv: readonly string[];
  /** `--json`: usage shown for an error (a group without its subcommand) is left out; the envelope says it. */
  json?: boolean;
  run: RunHook;
}

/** The `pilot` program. */
export function buildProgram(options: ProgramOptions): Command {
  const { io, specs, argv, run, json = false } = options;
  const program = new Command('pilot')
    .description('pilot: a Pilot Protocol overlay network node and its control tool')
    // Both are taken out of argv before parsing (valid anywhere); declared here for the help text.
    .option('--socket <path>', 'daemon IPC socket (default: $PILOT_SOCKET or /tmp/pilot.sock)')
    .option('--json', 'machine-readable output: {"status":"ok","data":...} / error envelope on stderr')
    .exitOverride()
    // Options belong to the command they follow: `daemon start --listen x` is start's, not the group's.
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => (json ? true : io.stderr.write(s)),
      // Errors are printed by main (text or JSON envelope).
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .addHelpText(
      'after',
      '\nAddresses: N:NNNN.HHHH.LLLL, a bare node ID (network 0) or a hostname.\n' +
        'Environment: PILOT_SOCKET, PILOT_HOME (default ~/.pilot), PILOT_REGISTRY.\n' +
        'Exit codes: 0 ok, 1 error, 2 usage error (without --json).',
    );

  const groups = new Map<string, Command>();
  const groupOf = (name: string): Command => {
    let g = groups.get(name);
    if (!g) {
      g = program
        .command(name)
        .description(GROUPS[name] ?? name)
        .helpCommand(false)
        .enablePositionalOptions();
      groups.set(name, g);
    }
    return g;
  };

  for (const spec of specs) {
    const parts = spec.name.split(' ');
    let cmd: Command;
    if (parts.length === 1 && GROUPS[parts[0]] !== undefined) {
      cmd = groupOf(parts[0]);
    } else if (parts.length === 2) {
      cmd = groupOf(parts[0]).command(parts[1]).description(spec.description);
    } else {
      cmd = program.command(spec.name).description(spec.description);
    }
    for (const a of spec.args ?? []) {
      const text = a.required
        ? `<${a.name}${a.variadic ? '...' : ''}>`
        : `[${a.name}${a.variadic ? '...' : ''}]`;
      const argument = new Argument(text, a.description);
      if (a.default !== undefined) argument.default(a.default);
      cmd.addArgument(argument);
    }
    for (const f of spec.flags ?? []) cmd.addOption(makeOption(f));
    // Every boolean flag also has its opposite (`--public` / `--no-public`, `--no-encrypt` / `--encrypt`), hidden
    // from help, so Go's `-public=false` / `-encrypt=false` (rewritten by main.ts) and the reference's `-encrypt`
    // parse. A pair the spec already declares (`--stdio` / `--no-stdio`) is left as it is.
    const names = new Set((spec.flags ?? []).map((f) => f.name));
    for (const f of spec.flags ?? []) {
      const opposite = oppositeFlag(f.name);
      if (f.type === 'bool' && !names.has(opposite)) cmd.addOption(new Option(`--${opposite}`).hideHelp());
    }
    cmd.action(async (...actionArgs: unknown[]) => {
      const self = actionArgs[actionArgs.length - 1] as Command;
      await run(spec, collectInput(spec, self, argv));
    });
  }
  return program;
}
