/**
 * Data exchange (port 1001): `pilot send-message`, `pilot send-file`, and the local `inbox` / `received`.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import cliProgress from 'cli-progress';
import { formatAddr } from '../../src/client.js';
import {
  clearInbox,
  clearReceived,
  listInbox,
  listReceived,
  sendFile,
  sendMessage,
} from '../../src/plugins/dataexchange/index.js';
import type { CommandContext } from '../command-context.js';
import { arg, command, flag, type CommandInput } from '../command-spec.js';
import { CliError } from '../errors.js';
import { deadline } from '../io-util.js';
import { safeText, type Output, type Row } from '../output.js';

/** An `ERR ...` reply from the server is a failure. */
function checkAck(ack: string): string {
  if (ack.startsWith('ERR')) throw new CliError('internal', `the remote could not save it: ${ack}`);
  return ack;
}

function dataDir(ctx: CommandContext, input: CommandInput): string {
  const dir = input.flags['data-dir'] as string | undefined;
  // "" would be the current directory (and `--clear` would delete its inbox/ or received/ files).
  if (dir !== undefined && dir.trim() === '')
    throw new CliError('invalid_argument', '--data-dir is empty', { hint: 'leave it out for $PILOT_HOME' });
  return dir ?? ctx.home;
}

const DATA_DIR_FLAG = flag(
  'data-dir',
  'string',
  'where the daemon keeps inbox/ and received/ (default $PILOT_HOME)',
  {
    placeholder: 'path',
  },
);

function progressBar(out: Output): { update(sent: number, total: number): void; stop(): void } | null {
  const stderr = out.io.stderr;
  if (out.json || stderr.isTTY !== true) return null;
  const bar = new cliProgress.SingleBar(
    {
      stream: stderr as NodeJS.WritableStream as never,
      format: 'sending [{bar}] {percentage}% | {value}/{total} bytes | {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(sent, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(sent);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export const dataExchangeCommands = [
  command<{ target: string; type: string; bytes: number; ack: string }>({
    name: 'send-message',
    description: "send a text, JSON or binary message to a node's inbox (data exchange, port 1001)",
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname')],
    flags: [
      flag('data', 'string', 'the message (required)', { placeholder: 'text' }),
      flag('type', 'string', 'message type', { choices: ['text', 'json', 'binary'], default: 'text' }),
      flag('timeout', 'duration', 'time limit for the dial and the acknowledgement (0: none)', {
        default: '30s',
      }),
    ],
    returns: {
      target: 'address',
      type: 'text, json or binary',
      bytes: 'payload bytes',
      ack: 'the reply, e.g. `ACK TEXT 5 bytes`',
    },
    async run(ctx, input) {
      const data = input.flags.data as string | undefined;
      if (data === undefined) throw new CliError('invalid_argument', '--data is required');
      const type = input.flags.type as string;
      if (type === 'json') {
        try {
          JSON.parse(data);
        } catch (err) {
          throw new CliError('invalid_argument', `--data is not valid JSON: ${(err as Error).message}`);
        }
      }
      const timeoutMs = input.flags.timeout as number;
      const addr = await ctx.resolveAddr(input.args.addr as string);
      const ack = await sendMessage(await ctx.driver(), addr, type, data, {
        signal: deadline(ctx.signal, timeoutMs),
        timeoutMs,
      });
      return { target: formatAddr(addr), type, bytes: Buffer.byteLength(data), ack: checkAck(ack) };
    },
    // The ack is the remote's text: its control characters are escaped, as in tables.
    text: (d, out) => out.line(`${safeText(d.ack)} (to ${d.target})`),
  }),

  command<{ filename: string; bytes: number; destination: string; ack: string }>({
    name: 'send-file',
    description: 'send a file (≤ 16 MiB) to a node; it lands in its received/ directory',
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname'), arg('path', 'file to send')],
    flags: [
      flag('timeout', 'duration', 'time limit for the dial and the acknowledgement (0: none)', {
        default: '60s',
      }),
    ],
    returns: {
      filename: 'name sent',
      bytes: 'file size',
      destination: 'address',
      ack: 'the reply, e.g. `ACK FILE 42 bytes`',
    },
    async run(ctx, input) {
      const path = input.args.path as string;
      const st = await stat(path).catch(() => null);
      if (!st) throw new CliError('not_found', `no such file: ${path}`);
      if (!st.isFile()) throw new CliError('invalid_argument', `not a regular file: ${path}`);
      const timeoutMs = input.flags.timeout as number;
      const addr = await ctx.resolveAddr(input.args.addr as string);
      const bar = progressBar(ctx.out);
      let ack: string;
      try {
        ack = await sendFile(await ctx.driver(), addr, path, {
          signal: deadline(ctx.signal, timeoutMs),
          timeoutMs,
          onProgress: bar ? (sent, total) => bar.update(sent, total) : undefined,
        });
      } finally {
        bar?.stop();
      }
      return { filename: basename(path), bytes: st.size, destination: formatAddr(addr), ack: checkAck(ack) };
    },
    text: (d, out) => out.line(`${safeText(d.ack)} (${safeText(d.filename)} to ${d.destination})`),
  }),

  command<{ messages: Row[]; total: number } | { cleared: number }>({
    name: 'inbox',
    description: 'messages received by the local daemon (data exchange)',
    flags: [flag('clear', 'bool', 'delete them'), DATA_DIR_FLAG],
    returns: {
      messages: '[{type, from, data, bytes, received_at, encoding?, file}]',
      total: 'number of messages',
      cleared: 'with --clear: number deleted',
    },
    async run(ctx, input) {
      const dir = dataDir(ctx, input);
      if (input.flags.clear) return { cleared: await clearInbox(dir) };
      const messages = (await listInbox(dir)) as unknown as Row[];
      return { messages, total: messages.length };
    },
    text: (d, out) => {
      if ('cleared' in d) out.line(`deleted ${d.cleared} message(s)`);
      else out.table(d.messages, ['received_at', 'from', 'type', 'bytes', 'data'], 'inbox is empty');
    },
  }),

  command<{ files: Row[]; total: number } | { cleared: number }>({
    name: 'received',
    description: 'files received by the local daemon (data exchange)',
    flags: [flag('clear', 'bool', 'delete them'), DATA_DIR_FLAG],
    returns: {
      files: '[{name, path, bytes, modified}]',
      total: 'number of files',
      cleared: 'with --clear: number deleted',
    },
    async run(ctx, input) {
      const dir = dataDir(ctx, input);
      if (input.flags.clear) return { cleared: await clearReceived(dir) };
      const files = (await listReceived(dir)) as unknown as Row[];
      return { files, total: files.length };
    },
    text: (d, out) => {
      if ('cleared' in d) out.line(`deleted ${d.cleared} file(s)`);
      else out.table(d.files, ['modified', 'bytes', 'name', 'path'], 'no files received');
    },
  }),
];
