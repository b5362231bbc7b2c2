/**
 * The declarative shape of a `pilot` subcommand. One list of these drives the argument parser (commander),
 * the help text and the machine-readable `pilot context` manifest, so they never disagree.
 */
import type { CommandContext } from './command-context.js';
import type { Output } from './output.js';

export type FlagType = 'string' | 'int' | 'number' | 'bool' | 'duration' | 'list';

export interface FlagSpec {
  /** Long name without the dashes, e.g. `count`, `no-encrypt`. */
  readonly name: string;
  readonly type: FlagType;
  readonly description: string;
  /** Default, applied after parsing (durations as text, e.g. `30s`). */
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
  /** Placeholder in help, e.g. `<n>`. */
  readonly placeholder?: string;
}

export interface ArgSpec {
  readonly name: string;
  readonly description: string;
  readonly required?: boolean;
  readonly variadic?: boolean;
  readonly default?: string;
}

/** Parsed command line of one command: positional args, typed flag values (defaults applied). */
export interface CommandInput {
  readonly args: Readonly<Record<string, string | string[] | undefined>>;
  /** Typed values: int/number → number, duration → milliseconds, bool → boolean, list → string[]. */
  readonly flags: Readonly<Record<string, unknown>>;
  /** Flags given on the command line (not defaulted). */
  readonly given: ReadonlySet<string>;
  /** Raw argv of the command (after the command name), for commands that re-spawn themselves. */
  readonly argv: readonly string[];
}

export interface CommandSpec<T = unknown> {
  /** `info`, or `daemon start` for a subcommand of a group. */
  readonly name: string;
  readonly description: string;
  readonly args?: readonly ArgSpec[];
  readonly flags?: readonly FlagSpec[];
  /** `data` fields of the JSON result: field → description. */
  readonly returns?: Readonly<Record<string, string>>;
  /** Talks to the local daemon over IPC. */
  readonly daemon?: boolean;
  /** Describes the NDJSON stream the command prints when it runs unbounded. */
  readonly stream?: string;
  /**
   * Run the command. A returned value is printed (envelope / text); `undefined` means the command printed
   * its own output (streams, interactive sessions).
   */
  run(ctx: CommandContext, input: CommandInput): Promise<T | undefined>;
  /** Human rendering of the result (method syntax keeps specs of any T assignable to CommandSpec). */
  text?(data: T, out: Output): void;
}

/** Descriptions of command groups (`daemon`, `plugins`) shown in help. */
export const GROUPS: Readonly<Record<string, string>> = {
  daemon: 'run the daemon in the foreground, or manage a background daemon (start, stop, status)',
  plugins: 'built-in plugins',
};

/** Shorthand for a flag. */
export function flag(
  name: string,
  type: FlagType,
  description: string,
  extra: Partial<Pick<FlagSpec, 'default' | 'choices' | 'placeholder'>> = {},
): FlagSpec {
  return { name, type, description, ...extra };
}

/** Shorthand for a positional argument. */
export function arg(
  name: string,
  description: string,
  extra: Partial<Pick<ArgSpec, 'required' | 'variadic' | 'default'>> = {},
): ArgSpec {
  return { name, description, required: extra.default === undefined, ...extra };
}

/** Define a command with its result type inferred. */
export function command<T>(spec: CommandSpec<T>): CommandSpec<T> {
  return spec;
}
