/**
 * Raw streams on any port: `pilot send` (one message, one reply), `pilot recv` (accept and read messages),
 * `pilot connect` (interactive stdin ↔ stream, or one message with `--message`).
 */
import { formatAddr, isValidPort, type Stream } from '../../src/client.js';
import type { CommandContext } from '../command-context.js';
import { arg, command, flag } from '../command-spec.js';
import { CliError } from '../errors.js';
import { deadline, readReply, release, timedOut } from '../io-util.js';

/** Largest reply `send` reads (reference: one read into a 64 KB buffer). */
export const MAX_REPLY = 64 * 1024;

export function parsePort(text: string | undefined, what = 'port'): number {
  const t = String(text ?? '').trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || !isValidPort(n))
    throw new CliError('invalid_argument', `${what} "${t}" must be 0..65535`);
  return n;
}

interface ExchangeData {
  target: string;
  port: number;
  sent: number;
  response: string;
}

/** Dial, write `data`, read a reply (the first chunk, or everything until the peer closes with `toEnd`). */
async function exchange(
  ctx: CommandContext,
  target: string,
  port: number,
  data: string,
  timeoutMs: number,
  toEnd: boolean,
): Promise<ExchangeData> {
  const signal = deadline(ctx.signal, timeoutMs);
  const addr = await ctx.resolveAddr(target);
  const stream = await (await ctx.driver()).dial(addr, port, { signal });
  try {
    const payload = Buffer.from(data, 'utf8');
    stream.write(payload);
    if (toEnd) stream.end();
    const reply = await readReply(stream, { max: MAX_REPLY, first: !toEnd, signal, what: 'response' });
    return { target: formatAddr(addr), port, sent: payload.length, response: reply.toString('utf8') };
  } finally {
    release(stream);
  }
}

interface RecvMessage {
  seq: number;
  port: number;
  from: string;
  data: string;
  bytes: number;
}

export const streamIoCommands = [
  command<ExchangeData>({
    name: 'send',
    description: 'dial a port, send data and print the first reply (≤ 64 KiB)',
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname'), arg('port', 'remote port')],
    flags: [
      flag('data', 'string', 'text to send (required)', { placeholder: 'text' }),
      flag('timeout', 'duration', 'time limit for the dial and the reply', { default: '30s' }),
    ],
    returns: { target: 'address', port: 'port', sent: 'bytes sent', response: 'the reply as text' },
    async run(ctx, input) {
      const port = parsePort(input.args.port as string);
      const data = input.flags.data as string | undefined;
      if (data === undefined) throw new CliError('invalid_argument', '--data is required');
      return exchange(ctx, input.args.addr as string, port, data, input.flags.timeout as number, false);
    },
    text: (d, out) => out.line(d.response),
  }),

  command<{ messages: RecvMessage[]; timeout: boolean }>({
    name: 'recv',
    description: 'listen on a port and print the messages received on accepted streams',
    daemon: true,
    args: [arg('port', 'local port')],
    flags: [
      flag('count', 'int', 'messages to wait for', { default: 1 }),
      flag('timeout', 'duration', 'time limit', { default: '30s' }),
    ],
    returns: {
      messages: '[{seq, port, from, data, bytes}]',
      timeout: 'true when the time limit ended the wait',
    },
    async run(ctx, input) {
      const port = parsePort(input.args.port as string);
      const count = input.flags.count as number;
      if (count < 1) throw new CliError('invalid_argument', '--count must be at least 1');
      const signal = deadline(ctx.signal, input.flags.timeout as number);
      const driver = await ctx.driver();
      const listener = await driver.listen(port, { signal: ctx.requestSignal });
      ctx.onClose(() => listener.close());
      const messages: RecvMessage[] = [];
      const open = new Set<Stream>();
      try {
        await new Promise<void>((resolve, reject) => {
          const done = (): void => {
            signal.removeEventListener('abort', done);
            resolve();
          };
          signal.addEventListener('abort', done, { once: true });
          const onStream = (s: Stream): void => {
            open.add(s);
            s.on('error', () => {});
            s.on('close', () => open.delete(s));
            s.on('data', (chunk: Buffer) => {
              if (messages.length >= count) return;
              const m = {
                seq: messages.length + 1,
                port,
                from: formatAddr(s.remoteAddr),
                data: chunk.toString('utf8'),
                bytes: chunk.length,
              };
              messages.push(m);
              if (!ctx.out.json) ctx.out.line(m.data);
              if (messages.length >= count) done();
            });
          };
          void (async () => {
            try {
              for (;;) onStream(await listener.accept({ signal }));
            } catch (err) {
              // The time limit or an interrupt ends the wait; anything else (the daemon went away) is an error.
              if (signal.aborted || messages.length >= count) done();
              else {
                signal.removeEventListener('abort', done);
                reject(driver.failure ?? err);
              }
            }
          })();
        });
      } finally {
        for (const s of open) release(s);
      }
      if (ctx.signal.aborted && !timedOut(signal) && messages.length < count) throw ctx.signal.reason;
      return { messages, timeout: messages.length < count };
    },
    text: (d, out) => {
      if (d.timeout) out.note(`time limit reached after ${d.messages.length} message(s)`);
    },
  }),

  command<ExchangeData | undefined>({
    name: 'connect',
    description: 'open a stream: stdin → stream, stream → stdout (or one --message and its reply)',
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname'), arg('port', 'remote port', { default: '1000' })],
    flags: [
      flag(
        'message',
        'string',
        'send this, half-close and print the reply instead of an interactive session',
        {
          placeholder: 'text',
        },
      ),
      flag('timeout', 'duration', 'time limit for the dial (and the reply with --message)', {
        default: '30s',
      }),
    ],
    returns: {
      target: 'address (with --message)',
      port: 'port (with --message)',
      sent: 'bytes sent (with --message)',
      response: 'everything the remote sent until it closed (with --message, ≤ 64 KiB)',
    },
    stream: 'interactive: raw bytes between stdin/stdout and the stream',
    async run(ctx, input) {
      const port = parsePort(input.args.port as string);
      const timeoutMs = input.flags.timeout as number;
      const message = input.flags.message as string | undefined;
      if (message !== undefined)
        return exchange(ctx, input.args.addr as string, port, message, timeoutMs, true);
      const addr = await ctx.resolveAddr(input.args.addr as string);
      const stream = await (await ctx.driver()).dial(addr, port, { signal: deadline(ctx.signal, timeoutMs) });
      ctx.out.note(`connected to ${formatAddr(addr)}:${port} (Ctrl-D ends the input, Ctrl-C closes)`);
      await interactive(ctx, stream);
      return undefined;
    },
    text: (d, out) => {
      if (d) out.line(d.response);
    },
  }),
];

/**
 * stdin → stream (end on EOF), stream → stdout. Resolves when both directions are done: the remote ended its
 * side, and stdin ended and our FIN is out (every byte reached the daemon). A remote that half-closes (it is
 * done sending but still reads) therefore still gets all of a piped stdin; only a terminal (stdin a TTY) ends
 * the session when the remote ends, as there is nothing piped to lose. Also resolves on an interrupt, rejects
 * when the stream fails.
 */
function interactive(ctx: CommandContext, stream: Stream): Promise<void> {
  const { stdin, stdout } = ctx.io;
  return new Promise<void>((resolve, reject) => {
    let remoteEnded = false;
    let localEnded = false;
    const onStdin = (chunk: Buffer): void => {
      if (!stream.write(chunk)) {
        stdin.pause();
        stream.once('drain', () => stdin.resume());
      }
    };
    const onStdinEnd = (): void => {
      stream.end();
    };
    const onFinish = (): void => {
      localEnded = true;
      if (remoteEnded) finish();
    };
    const onEnd = (): void => {
      remoteEnded = true;
      if (localEnded || stdin.isTTY === true) finish();
    };
    const onClose = (): void => finish();
    const finish = (err?: Error | null): void => {
      stdin.off('data', onStdin);
      stdin.off('end', onStdinEnd);
      stdin.pause();
      stream.off('finish', onFinish);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      ctx.signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = (): void => {
      stream.destroy();
      finish();
    };
    // A slow stdout reader slows the stream down instead of the whole transfer piling up in memory.
    stream.on('data', (chunk: Buffer) => {
      if (!stdout.write(chunk)) {
        stream.pause();
        stdout.once('drain', () => stream.resume());
      }
    });
    stream.once('finish', onFinish);
    stream.once('end', onEnd);
    stream.once('close', onClose);
    stream.once('error', (err) => finish(err));
    stdin.on('data', onStdin);
    stdin.once('end', onStdinEnd);
    stdin.resume();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}
