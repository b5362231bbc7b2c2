/**
 * Datagrams: `pilot listen <port>` (print what arrives; NDJSON when unbounded), `pilot send-datagram` and
 * `pilot broadcast` (a datagram to a network's broadcast address, which daemons refuse for now, as the
 * reference does: `unavailable`, "broadcast is not available — custom networks are WIP").
 */
import { broadcastAddr, formatAddr, type Datagram } from '../../src/client.js';
import { arg, command, flag } from '../command-spec.js';
import { CliError } from '../errors.js';
import { deadline, timedOut } from '../io-util.js';
import { safeText } from '../output.js';
import { parsePort } from './stream-io.js';

interface DatagramRow {
  seq: number;
  src: string;
  src_port: number;
  port: number;
  data: string;
  bytes: number;
}

function row(seq: number, d: Datagram): DatagramRow {
  return {
    seq,
    src: formatAddr(d.src),
    src_port: d.srcPort,
    port: d.dstPort,
    data: d.data.toString('utf8'),
    bytes: d.data.length,
  };
}

export const datagramCommands = [
  command<{ messages: DatagramRow[]; timeout: boolean } | undefined>({
    name: 'listen',
    description:
      'receive datagrams on a port; runs until Ctrl-C (NDJSON with --json) unless --count is given',
    daemon: true,
    args: [arg('port', 'local port')],
    flags: [
      flag('count', 'int', 'stop after this many datagrams and print them as one result', {
        placeholder: 'n',
      }),
      flag('timeout', 'duration', 'time limit (none by default)'),
    ],
    returns: {
      messages: '[{seq, src, src_port, port, data, bytes}] (with --count)',
      timeout: 'true when the time limit ended the wait (with --count)',
    },
    stream: 'one {seq, src, src_port, port, data, bytes} object per line',
    async run(ctx, input) {
      const port = parsePort(input.args.port as string);
      const count = input.flags.count as number | undefined;
      if (count !== undefined && count < 1)
        throw new CliError('invalid_argument', '--count must be at least 1');
      const signal = deadline(ctx.signal, input.flags.timeout as number | undefined);
      const driver = await ctx.driver();
      const socket = await driver.bindDatagram(port, { signal: ctx.requestSignal });
      ctx.onClose(() => socket.close());
      const messages: DatagramRow[] = [];
      ctx.out.note(`listening for datagrams on port ${port}`);
      try {
        for (let seq = 1; count === undefined || seq <= count; seq++) {
          const r = row(seq, await socket.receive({ signal }));
          if (count !== undefined) messages.push(r);
          if (ctx.out.json) {
            if (count === undefined) ctx.out.ndjson(r);
          } else ctx.out.line(`[${r.src}:${r.src_port} → ${r.port}] ${safeText(r.data)}`);
        }
      } catch (err) {
        // The daemon went away: report that (not_running), not the socket's ERR_CLOSED.
        if (!signal.aborted) throw driver.failure ?? err;
        if (count !== undefined && !timedOut(signal)) throw ctx.signal.reason;
      }
      if (count === undefined) return undefined;
      return { messages, timeout: messages.length < count };
    },
    text: () => {},
  }),

  command<{ target: string; port: number; bytes: number }>({
    name: 'send-datagram',
    description: 'send one unreliable datagram to a port',
    daemon: true,
    args: [arg('addr', 'address, node ID or hostname'), arg('port', 'remote port')],
    flags: [flag('data', 'string', 'text to send (required)', { placeholder: 'text' })],
    returns: { target: 'address', port: 'port', bytes: 'bytes sent' },
    async run(ctx, input) {
      const port = parsePort(input.args.port as string);
      const data = input.flags.data as string | undefined;
      if (data === undefined) throw new CliError('invalid_argument', '--data is required');
      const addr = await ctx.resolveAddr(input.args.addr as string);
      const payload = Buffer.from(data, 'utf8');
      await (await ctx.driver()).sendDatagram(addr, port, payload, { signal: ctx.requestSignal });
      return { target: formatAddr(addr), port, bytes: payload.length };
    },
    text: (d, out) => out.line(`sent ${d.bytes} bytes to ${d.target}:${d.port}`),
  }),

  command<{ target: string; network: number; port: number; bytes: number }>({
    name: 'broadcast',
    description: 'send one datagram to every node of a network (refused while custom networks are WIP)',
    daemon: true,
    args: [arg('network', 'network ID (0-65535)'), arg('port', 'remote port')],
    flags: [flag('data', 'string', 'text to send (required)', { placeholder: 'text' })],
    returns: { target: 'broadcast address', network: 'network ID', port: 'port', bytes: 'bytes sent' },
    async run(ctx, input) {
      const text = String(input.args.network).trim();
      const network = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
      if (!(network <= 0xffff)) {
        throw new CliError(
          'invalid_argument',
          `network "${String(input.args.network)}" must be a number 0-65535`,
        );
      }
      const port = parsePort(input.args.port as string);
      const data = input.flags.data as string | undefined;
      if (data === undefined) throw new CliError('invalid_argument', '--data is required');
      const addr = broadcastAddr(network);
      const payload = Buffer.from(data, 'utf8');
      try {
        await (await ctx.driver()).sendDatagram(addr, port, payload, { signal: ctx.requestSignal });
      } catch (err) {
        // The daemon's refusal is about broadcast, not about an old daemon missing a command.
        if ((err as { code?: unknown }).code !== 'ERR_IPC_UNSUPPORTED') throw err;
        throw new CliError('unavailable', (err as Error).message, {
          hint: 'send to each node with `pilot send-datagram` instead',
        });
      }
      return { target: formatAddr(addr), network, port, bytes: payload.length };
    },
    text: (d, out) => out.line(`broadcast ${d.bytes} bytes to ${d.target}:${d.port}`),
  }),
];
