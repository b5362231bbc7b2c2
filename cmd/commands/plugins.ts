/**
 * `pilot plugins list|info`: the built-in plugins, and their state in the running daemon when one answers
 * (from Info's `services` field, tolerated when absent).
 */
import type { BuiltinPlugin } from '../../src/client.js';
import type { CommandContext } from '../command-context.js';
import { arg, command } from '../command-spec.js';
import { probeInfo } from '../daemon-process.js';
import { CliError } from '../errors.js';

interface PluginRow {
  name: string;
  description: string;
  builtin: boolean;
  /** null when no daemon answers (or it does not report services). */
  running: boolean | null;
  state: string | null;
}

/** name → state from the daemon, or null without a daemon / services field. */
async function daemonServices(ctx: CommandContext): Promise<Map<string, string> | null> {
  const info = await probeInfo(ctx.socketPath, 1500);
  if (!info || !Array.isArray(info.services)) return null;
  const m = new Map<string, string>();
  for (const s of info.services as unknown[]) {
    const r = s as { name?: unknown; state?: unknown };
    if (typeof r.name === 'string') m.set(r.name, typeof r.state === 'string' ? r.state : 'unknown');
  }
  return m;
}

/** The built-in plugins (their code loads only for these commands). */
async function loadBuiltins(): Promise<readonly BuiltinPlugin[]> {
  return (await import('../../src/plugins/index.js')).builtinPlugins;
}

function rows(builtinPlugins: readonly BuiltinPlugin[], services: Map<string, string> | null): PluginRow[] {
  const out: PluginRow[] = builtinPlugins.map((p) => {
    const state = services?.get(p.name) ?? null;
    return {
      name: p.name,
      description: p.description ?? '',
      builtin: true,
      running: services ? state === 'running' : null,
      state: services ? (state ?? 'disabled') : null,
    };
  });
  for (const [name, state] of services ?? []) {
    if (out.some((r) => r.name === name)) continue;
    out.push({ name, description: '', builtin: false, running: state === 'running', state });
  }
  return out;
}

export const pluginCommands = [
  command<{ plugins: PluginRow[]; daemon: boolean }>({
    name: 'plugins list',
    description: 'the built-in plugins (and their state when a daemon answers)',
    returns: {
      plugins: '[{name, description, builtin, running (null without a daemon), state}]',
      daemon: 'a daemon answered',
    },
    async run(ctx) {
      const services = await daemonServices(ctx);
      return { plugins: rows(await loadBuiltins(), services), daemon: services !== null };
    },
    text: (d, out) =>
      out.table(
        d.plugins as unknown as Record<string, unknown>[],
        d.daemon ? ['name', 'state', 'description'] : ['name', 'description'],
      ),
  }),

  command<PluginRow & { config_schema: unknown }>({
    name: 'plugins info',
    description: 'one plugin: description, configuration schema, state',
    args: [arg('name', 'plugin name')],
    returns: {
      name: 'name',
      description: 'what it does',
      builtin: 'true for built-ins',
      running: 'null without a daemon',
      state: 'service state in the daemon',
      config_schema: 'JSON Schema of its configuration section',
    },
    async run(ctx, input) {
      const name = input.args.name as string;
      const services = await daemonServices(ctx);
      const builtinPlugins = await loadBuiltins();
      const row = rows(builtinPlugins, services).find((r) => r.name === name);
      if (!row)
        throw new CliError('not_found', `no plugin named "${name}"`, { hint: 'see `pilot plugins list`' });
      const p = builtinPlugins.find((b) => b.name === name);
      return { ...row, config_schema: p?.configSchema ?? null };
    },
    text: (d, out) => {
      out.fields(d as unknown as Record<string, unknown>, ['name', 'description', 'builtin', 'state']);
      if (d.config_schema) out.line(`config_schema: ${JSON.stringify(d.config_schema)}`);
    },
  }),
];
