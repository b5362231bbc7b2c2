/**
 * Every `pilot` command, in help order. `registry` and `beacon` are delegated before parsing (see main.ts) and
 * are listed here only for help and the manifest.
 */
import { command, type CommandSpec } from '../command-spec.js';
import { buildManifest, type Manifest } from '../manifest.js';
import { configCommands } from './config-file.js';
import { daemonCommands } from './daemon.js';
import { dataExchangeCommands } from './data-exchange.js';
import { datagramCommands } from './datagrams.js';
import { eventCommands } from './events.js';
import { nodeInfoCommands } from './node-info.js';
import { pingCommands } from './ping.js';
import { pluginCommands } from './plugins.js';
import { registryOpsCommands } from './registry-ops.js';
import { streamIoCommands } from './stream-io.js';
import { trustCommands } from './trust.js';

const delegated = (name: string, description: string): CommandSpec =>
  command<undefined>({
    name,
    description,
    run: () => Promise.resolve(undefined),
  });

const contextCommand = command<Manifest>({
  name: 'context',
  description: 'machine-readable description of every command, flag and result field',
  returns: {
    version: 'manifest version ("1.2")',
    commands: '[{name, description, args, flags, returns, daemon, stream?}]',
    global_flags: 'flags valid for every command',
    error_codes: 'codes of the error envelope',
  },
  run: () => Promise.resolve(buildManifest(allCommands)),
  text: (m, out) => {
    for (const c of m.commands as { name: string; description: string }[])
      out.line(`${c.name.padEnd(16)} ${c.description}`);
  },
});

/**
 * A daemon command's `--timeout` bounds the whole command, not only the step the command applies it to:
 * connecting to the daemon, resolving a hostname and every request that uses `ctx.requestSignal`.
 */
function boundedByTimeout(spec: CommandSpec): CommandSpec {
  const timeout = spec.flags?.find((f) => f.name === 'timeout' && f.type === 'duration');
  if (!spec.daemon || !timeout) return spec;
  return {
    ...spec,
    run: (ctx, input) => {
      ctx.setTimeLimit(input.flags.timeout as number | undefined);
      return spec.run(ctx, input);
    },
  };
}

export const allCommands: readonly CommandSpec[] = [
  ...configCommands,
  ...daemonCommands,
  ...[
    ...nodeInfoCommands,
    ...pingCommands,
    ...streamIoCommands,
    ...datagramCommands,
    ...dataExchangeCommands,
    ...eventCommands,
    ...registryOpsCommands,
    ...trustCommands,
  ].map(boundedByTimeout),
  ...pluginCommands,
  delegated('registry', 'run a registry server (pilot registry --help)'),
  delegated('beacon', 'run a beacon server (pilot beacon --help)'),
  contextCommand,
];
