/**
 * Directory operations: through the daemon (`find`, `set-hostname`, `set-public`, `set-tags`, ...) or straight
 * at a registry (`lookup`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatAddr, loadConfig, makeAddr, MAX_TIMER_MS, parseAddr } from '../../src/client.js';
import type { CommandContext } from '../command-context.js';
import { arg, command, flag, type CommandSpec } from '../command-spec.js';
import { CliError } from '../errors.js';
import type { Row } from '../output.js';
import { probeInfo } from '../daemon-process.js';

type Json = Record<string, unknown>;

/** A command that calls one driver method and prints the registry's answer. */
function viaDaemon(
  name: string,
  description: string,
  call: (ctx: CommandContext, args: Record<string, unknown>) => Promise<Json>,
  extra: Partial<CommandSpec<Json>> = {},
): CommandSpec<Json> {
  return command<Json>({
    name,
    description,
    daemon: true,
    ...extra,
    run: async (ctx, input) => withoutType(await call(ctx, input.args)),
  });
}

/** Registry answers carry their message `type` (`set_hostname_ok`, ...); the CLI result does not. */
function withoutType(r: Json): Json {
  const { type: _type, ...rest } = r;
  return rest;
}

/**
 * A positional argument that must not be empty: the daemon takes "" as "clear", so `pilot set-hostname "$NAME"`
 * with an unset variable would drop the hostname and report success.
 */
function required(value: unknown, what: string, clearCommand: string): string {
  const text = String(value ?? '');
  if (text.trim() === '') {
    throw new CliError('invalid_argument', `the ${what} is empty`, {
      hint: `\`pilot ${clearCommand}\` removes it`,
    });
  }
  return text;
}

/** Registry address for `lookup`: --registry, PILOT_REGISTRY, the running daemon's, the config file's, the default. */
async function registryAddress(ctx: CommandContext, given: string | undefined): Promise<string> {
  if (given) return given;
  if (ctx.env.PILOT_REGISTRY) return ctx.env.PILOT_REGISTRY;
  const info = await probeInfo(ctx.socketPath, 1000);
  if (info && typeof info.registry === 'string' && info.registry !== '') return info.registry;
  const file = join(ctx.home, 'config.json');
  const cfg = loadConfig({ file: existsSync(file) ? file : null, env: ctx.env });
  return cfg.registry ?? cfg.embeddedRegistry;
}

export const registryOpsCommands: CommandSpec[] = [
  viaDaemon(
    'find',
    'resolve a hostname to a node (through the daemon and its registry)',
    async (ctx, a) => ({
      hostname: a.hostname,
      ...(await (await ctx.driver()).resolveHostname(a.hostname as string, { signal: ctx.requestSignal })),
    }),
    {
      args: [arg('hostname', 'hostname to resolve')],
      returns: { hostname: 'the name', node_id: 'node ID', address: 'node address', public: 'visibility' },
    },
  ),
  viaDaemon(
    'set-hostname',
    'claim a hostname for this node at the registry',
    async (ctx, a) => {
      const hostname = required(a.hostname, 'hostname', 'clear-hostname');
      return (await ctx.driver()).setHostname(hostname, { signal: ctx.requestSignal });
    },
    {
      args: [arg('hostname', 'lowercase name (a-z, 0-9, -)')],
      returns: { node_id: 'node ID', hostname: 'hostname' },
    },
  ),
  viaDaemon(
    'clear-hostname',
    "drop this node's hostname",
    async (ctx) => (await ctx.driver()).setHostname('', { signal: ctx.requestSignal }),
    {
      returns: { node_id: 'node ID', hostname: '""' },
    },
  ),
  viaDaemon(
    'set-public',
    'make this node resolvable by everyone',
    async (ctx) => (await ctx.driver()).setVisibility(true, { signal: ctx.requestSignal }),
    {
      returns: { node_id: 'node ID', visibility: '"public"' },
    },
  ),
  viaDaemon(
    'set-private',
    'make this node resolvable only by trusted peers',
    async (ctx) => (await ctx.driver()).setVisibility(false, { signal: ctx.requestSignal }),
    {
      returns: { node_id: 'node ID', visibility: '"private"' },
    },
  ),
  viaDaemon(
    'set-tags',
    "set this node's tags (at most 3)",
    async (ctx, a) => {
      // The registry's own rules (a leading # dropped; 1-32 lowercase letters, digits and inner hyphens), checked
      // before anything is sent.
      const { normalizeTags } = await import('../../src/registry/index.js');
      const tags = normalizeTags(a.tags as string[]);
      if (tags.length > 3)
        throw new CliError('invalid_argument', `too many tags (${tags.length}, at most 3)`);
      return (await ctx.driver()).setTags(tags, { signal: ctx.requestSignal });
    },
    {
      args: [
        arg('tags', 'tags: 1-32 lowercase letters, digits and inner hyphens (a leading # is dropped)', {
          variadic: true,
          required: true,
        }),
      ],
      returns: { node_id: 'node ID', tags: '[tags]' },
    },
  ),
  viaDaemon(
    'clear-tags',
    "remove this node's tags",
    async (ctx) => (await ctx.driver()).setTags([], { signal: ctx.requestSignal }),
    {
      returns: { node_id: 'node ID', tags: '[]' },
    },
  ),
  viaDaemon(
    'set-webhook',
    'POST every daemon event to this URL (hot-swapped)',
    async (ctx, a) => {
      const url = required(a.url, 'webhook URL', 'clear-webhook');
      return {
        ...(await (await ctx.driver()).setWebhook(url, { signal: ctx.requestSignal })),
        applied: true,
      };
    },
    { args: [arg('url', 'http(s) URL')], returns: { webhook: 'the URL', applied: 'true' } },
  ),
  viaDaemon(
    'clear-webhook',
    'stop posting events',
    async (ctx) => ({
      ...(await (await ctx.driver()).setWebhook('', { signal: ctx.requestSignal })),
      applied: true,
    }),
    { returns: { webhook: '""', applied: 'true' } },
  ),
  viaDaemon(
    'enable-tasks',
    'advertise that this node executes tasks',
    async (ctx) => (await ctx.driver()).setTaskExec(true, { signal: ctx.requestSignal }),
    {
      returns: { node_id: 'node ID', task_exec: 'true' },
    },
  ),
  viaDaemon(
    'disable-tasks',
    'stop advertising task execution',
    async (ctx) => (await ctx.driver()).setTaskExec(false, { signal: ctx.requestSignal }),
    {
      returns: { node_id: 'node ID', task_exec: 'false' },
    },
  ),
  viaDaemon(
    'deregister',
    'remove this node from the registry (until its next heartbeat re-registers it)',
    async (ctx) => (await ctx.driver()).deregister({ signal: ctx.requestSignal }),
    {
      returns: { node_id: 'node ID' },
    },
  ),

  command<Row>({
    name: 'lookup',
    description: "a node's registry record, asked straight from a registry",
    args: [arg('node', 'node ID, address or hostname')],
    flags: [
      flag(
        'registry',
        'string',
        'registry host:port (default: PILOT_REGISTRY, the running daemon’s, config)',
        {
          placeholder: 'host:port',
        },
      ),
      flag('timeout', 'duration', 'time limit (0: none)', { default: '10s' }),
    ],
    returns: {
      node_id: 'node ID',
      address: 'node address',
      public_key: 'Ed25519 public key (base64)',
      networks: 'network IDs',
      hostname: 'hostname',
      public: 'visibility',
      polo_score: 'polo score',
      tags: 'tags',
      task_exec: 'executes tasks',
    },
    async run(ctx, input) {
      const addr = await registryAddress(ctx, input.flags.registry as string | undefined);
      // 0: no time limit, as for every other --timeout.
      const timeoutMs = (input.flags.timeout as number) || MAX_TIMER_MS;
      const { RegistryClient } = await import('../../src/registry/index.js');
      const client = new RegistryClient({
        addr,
        timeoutMs,
        connectTimeoutMs: Math.min(timeoutMs, 5000),
        reconnectAttempts: 1,
      });
      ctx.onClose(() => client.close());
      const text = (input.args.node as string).trim();
      let nodeId: number;
      if (/^\d+$/.test(text)) nodeId = Number(text);
      else if (text.includes(':')) nodeId = parseAddr(text).node;
      else nodeId = (await client.resolveHostname(text, { signal: ctx.signal })).node_id;
      if (!Number.isSafeInteger(nodeId) || nodeId > 0xffffffff)
        throw new CliError('invalid_argument', `node "${text}" out of range`);
      const r = (await client.lookup(nodeId, { signal: ctx.signal })) as unknown as Row;
      const { type: _type, ...record } = r;
      return { address: formatAddr(makeAddr(0, nodeId)), ...record };
    },
  }),
];
