/**
 * `pilot init` and `pilot config`: write and edit the daemon's config file ($PILOT_HOME/config.json, which
 * `pilot daemon` reads when it exists). Values are checked as the daemon checks them at start-up.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/client.js';
import type { CommandContext } from '../command-context.js';
import { command, flag } from '../command-spec.js';
import { CliError, UsageError } from '../errors.js';
import type { Output, Row } from '../output.js';
import type * as ConfigFile from '../../src/node/config-file.js';

/** The config-file code loads only for these commands, not at every CLI start. */
function configFile(): Promise<typeof ConfigFile> {
  return import('../../src/node/config-file.js');
}

function configPath(ctx: CommandContext): string {
  return join(ctx.home, 'config.json');
}

/**
 * `--set a=1 --set b=x,y`: list flags arrive split at commas, so a piece without `=` belongs to the pair
 * before it (a list value such as `disable=echo,webhook`).
 */
export function parseAssignments(pieces: readonly string[]): Record<string, string> {
  const pairs: [string, string][] = [];
  for (const piece of pieces) {
    const eq = piece.indexOf('=');
    if (eq > 0) pairs.push([piece.slice(0, eq).trim(), piece.slice(eq + 1)]);
    else if (pairs.length > 0 && eq < 0) pairs[pairs.length - 1][1] += `,${piece}`;
    else throw new UsageError(`--set takes key=value, got "${piece}"`);
  }
  return Object.fromEntries(pairs);
}

function showConfig(data: Row, out: Output): void {
  const cfg = data.config as Row;
  out.line(`# ${String(data.config_path)}${data.exists === false ? ' (not created yet)' : ''}`);
  const keys = Object.keys(cfg);
  if (keys.length === 0) out.line('(no keys: the daemon runs on its defaults)');
  for (const k of keys) out.line(`${k} = ${JSON.stringify(cfg[k])}`);
  if ((data.changed as string[] | undefined)?.length) out.line('restart the daemon to apply the change');
}

export const configCommands = [
  command<Row>({
    name: 'init',
    description: 'write the config file $PILOT_HOME/config.json that `pilot daemon` reads',
    flags: [
      flag('registry', 'string', 'registry host:port (default: an embedded registry on loopback)', {
        placeholder: 'host:port',
      }),
      flag('beacon', 'string', 'beacon host:port', { placeholder: 'host:port' }),
      flag('hostname', 'string', 'hostname to claim at the registry'),
      flag('force', 'bool', 'replace an existing config file'),
    ],
    returns: {
      config_path: 'the file written',
      registry: 'registry host:port (null: embedded)',
      beacon: 'beacon host:port (null: none, or embedded with an embedded registry)',
      socket: 'IPC socket path',
      hostname: 'hostname (null: none)',
    },
    async run(ctx, input) {
      const cf = await configFile();
      const path = configPath(ctx);
      if (existsSync(path) && input.flags.force !== true) {
        throw new CliError('already_exists', `${path} already exists`, {
          hint: 'change keys with `pilot config --set key=value`, or pass --force to start over',
        });
      }
      const set: Record<string, string> = {};
      for (const key of ['registry', 'beacon', 'hostname'] as const) {
        const v = input.flags[key];
        if (typeof v === 'string') set[key] = v;
      }
      if (ctx.socketFlag !== undefined) set.socket = ctx.socketFlag;
      const obj = cf.editConfigObject({}, { set }, 'pilot init');
      await cf.writeConfigObject(path, obj);
      const cfg = loadConfig({ file: path, env: {} });
      return {
        config_path: path,
        registry: cfg.registry,
        beacon: cfg.beacon,
        socket: cfg.socket,
        hostname: cfg.hostname,
      };
    },
    text: (d, out) => {
      out.line(`wrote ${String(d.config_path)}`);
      out.fields(d, ['registry', 'beacon', 'socket', 'hostname']);
    },
  }),
  command<Row>({
    name: 'config',
    description: 'show the config file, or change keys in it (--set key=value, --unset key)',
    flags: [
      flag('set', 'list', 'set a key (repeatable); keys as the daemon flags name them', {
        placeholder: 'key=value',
      }),
      flag('unset', 'list', 'remove a key (repeatable)', { placeholder: 'key' }),
    ],
    returns: {
      config_path: 'the config file',
      exists: 'whether the file exists',
      config: 'the keys in the file, after the change',
      changed: 'keys set or removed by this call',
    },
    async run(ctx, input) {
      const cf = await configFile();
      const path = configPath(ctx);
      const before = cf.readConfigObject(path);
      const set = parseAssignments((input.flags.set as string[] | undefined) ?? []);
      const unset = (input.flags.unset as string[] | undefined) ?? [];
      const changed = [...unset, ...Object.keys(set)];
      if (changed.length === 0)
        return { config_path: path, exists: existsSync(path), config: before, changed };
      const after = cf.editConfigObject(before, { set, unset }, 'pilot config');
      await cf.writeConfigObject(path, after);
      return { config_path: path, exists: true, config: after, changed };
    },
    text: showConfig,
  }),
];
