/**
 * Event stream (port 1002): `pilot subscribe` and `pilot publish`.
 */
import { formatAddr } from '../../src/client.js';
import { publish, subscribe } from '../../src/plugins/eventstream/index.js';
import { arg, command, flag } from '../command-spec.js';
import { CliError } from '../errors.js';
import { deadline, timedOut } from '../io-util.js';
import { safeText } from '../output.js';

interface EventRow {
  topic: string;
  data: string;
  bytes: number;
}

const TRUST_HINT =
  'a node’s event stream serves only peers it trusts (`pilot handshake <node>`, then approval)';

/**
 * The broker closing the stream on us: a node's event stream resets streams from peers it does not trust, and
 * the client sees that as a reset or, when it was writing at that moment, as its stream closed (ERR_CLOSED, else
 * `internal`). Either is `connection_failed`, with the likely reason as the hint.
 */
function refused(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_CLOSED' && code !== 'ERR_CONNECTION_RESET') return err;
  return new CliError('connection_failed', 'the node’s event stream closed the connection', {
    cause: err,
    hint: TRUST_HINT,
  });
}

export const eventCommands = [
  command<{ events: EventRow[]; timeout: boolean } | undefined>({
    name: 'subscribe',
    description:
      "subscribe to a topic on a node's event stream (`*` = all); runs until Ctrl-C unless --count",
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname'), arg('topic', 'topic, or * for every topic')],
    flags: [
      flag('count', 'int', 'stop after this many events and print them as one result', { placeholder: 'n' }),
      flag('timeout', 'duration', 'time limit (none by default)'),
    ],
    returns: {
      events: '[{topic, data, bytes}] (with --count)',
      timeout: 'true when the time limit ended the wait (with --count)',
    },
    stream: 'one {topic, data, bytes} object per line',
    async run(ctx, input) {
      const count = input.flags.count as number | undefined;
      if (count !== undefined && count < 1)
        throw new CliError('invalid_argument', '--count must be at least 1');
      const topic = input.args.topic as string;
      const signal = deadline(ctx.signal, input.flags.timeout as number | undefined);
      const addr = await ctx.resolveAddr(input.args.addr as string);
      const client = await subscribe(await ctx.driver(), addr, topic, { signal }).catch((err: unknown) => {
        throw refused(err);
      });
      ctx.onClose(() => client.close());
      ctx.out.note(`subscribed to "${topic}" on ${formatAddr(addr)}`);
      const events: EventRow[] = [];
      try {
        for await (const ev of client) {
          const r = { topic: ev.topic, data: ev.payload.toString('utf8'), bytes: ev.payload.length };
          if (count !== undefined) events.push(r);
          if (ctx.out.json) {
            if (count === undefined) ctx.out.ndjson(r);
          } else ctx.out.line(`[${safeText(r.topic)}] ${safeText(r.data)}`);
          if (count !== undefined && events.length >= count) break;
        }
      } catch (err) {
        if (!signal.aborted) throw refused(err);
        if (count !== undefined && !timedOut(signal)) throw ctx.signal.reason;
      }
      if (!signal.aborted && (count === undefined || events.length < count)) {
        throw new CliError('connection_failed', 'the event stream closed', {
          hint: 'the broker went away or refused the subscription',
        });
      }
      if (count === undefined) return undefined;
      return { events, timeout: events.length < count };
    },
    text: () => {},
  }),

  command<{ target: string; topic: string; bytes: number }>({
    name: 'publish',
    description: "publish one event to a topic on a node's event stream",
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname'), arg('topic', 'topic')],
    flags: [
      flag('data', 'string', 'event payload (required)', { placeholder: 'text' }),
      flag('timeout', 'duration', 'time limit', { default: '30s' }),
    ],
    returns: { target: 'address', topic: 'topic', bytes: 'payload bytes' },
    async run(ctx, input) {
      const data = input.flags.data as string | undefined;
      if (data === undefined) throw new CliError('invalid_argument', '--data is required');
      const topic = input.args.topic as string;
      const addr = await ctx.resolveAddr(input.args.addr as string);
      try {
        await publish(await ctx.driver(), addr, topic, data, {
          signal: deadline(ctx.signal, input.flags.timeout as number),
        });
      } catch (err) {
        throw refused(err);
      }
      return { target: formatAddr(addr), topic, bytes: Buffer.byteLength(data) };
    },
    text: (d, out) => out.line(`published ${d.bytes} bytes to "${d.topic}" on ${d.target}`),
  }),
];
