/**
 * `pilot info`, `peers`, `connections`, `disconnect`: the daemon's state over IPC.
 */
import { isPilotError, type DaemonInfo } from '../../src/client.js';
import { arg, command, flag } from '../command-spec.js';
import { CliError } from '../errors.js';
import { humanBytes, humanDuration, type Row } from '../output.js';

const PEER_COLUMNS = ['node_id', 'endpoint', 'encrypted', 'authenticated'];
const CONN_COLUMNS = [
  'id',
  'local_port',
  'remote_addr',
  'remote_port',
  'state',
  'srtt_ms',
  'bytes_sent',
  'bytes_recv',
  'retransmits',
];

export const nodeInfoCommands = [
  command<DaemonInfo>({
    name: 'info',
    description: "the daemon's Info: identity, counters, peers and connections",
    daemon: true,
    returns: {
      node_id: 'node ID',
      address: 'node address',
      hostname: 'hostname ("" when none)',
      uptime_secs: 'seconds since start',
      connections: 'open connections',
      ports: 'listening ports',
      peers: 'tunnel peers',
      encrypted_peers: 'peers with an encrypted session',
      authenticated_peers: 'peers whose key was verified',
      encrypt: 'tunnel encryption on',
      identity: 'an identity file is configured',
      public_key: 'Ed25519 public key (base64)',
      owner: 'owner id',
      bytes_sent: 'tunnel bytes sent',
      bytes_recv: 'tunnel bytes received',
      pkts_sent: 'tunnel packets sent',
      pkts_recv: 'tunnel packets received',
      peer_list: '[{node_id, endpoint, encrypted, authenticated}]',
      conn_list:
        '[{id, local_port, remote_addr, remote_port, state, cong_win, srtt_ms, bytes_sent, bytes_recv, ...}]',
    },
    async run(ctx) {
      return (await ctx.driver()).info({ signal: ctx.requestSignal });
    },
    text: (d, out) => {
      out.fields({
        node_id: d.node_id,
        address: d.address,
        hostname: d.hostname,
        uptime: humanDuration(d.uptime_secs ?? 0),
        public_key: d.public_key,
        owner: d.owner,
        encrypt: d.encrypt,
        identity: d.identity,
        peers: `${d.peers} (${d.encrypted_peers} encrypted, ${d.authenticated_peers} authenticated)`,
        connections: d.connections,
        ports: d.ports,
        sent: `${humanBytes(d.bytes_sent ?? 0)} in ${d.pkts_sent} packets`,
        received: `${humanBytes(d.bytes_recv ?? 0)} in ${d.pkts_recv} packets`,
        registry: d.registry,
        socket: d.socket,
      });
      const services = d.services as { name: string; state: string }[] | undefined;
      if (Array.isArray(services) && services.length > 0) {
        out.line(`services: ${services.map((s) => `${s.name} (${s.state})`).join(', ')}`);
      }
    },
  }),

  command<{ peers: Row[]; total: number }>({
    name: 'peers',
    description: 'tunnel peers of the daemon',
    daemon: true,
    flags: [
      flag('search', 'string', 'only peers whose node ID or endpoint contains this text', {
        placeholder: 'text',
      }),
    ],
    returns: { peers: '[{node_id, endpoint, encrypted, authenticated}]', total: 'number of peers listed' },
    async run(ctx, input) {
      const info = await (await ctx.driver()).info({ signal: ctx.requestSignal });
      const q = input.flags.search as string | undefined;
      const peers = (info.peer_list ?? []).filter(
        (p) => q === undefined || String(p.node_id).includes(q) || p.endpoint.includes(q),
      ) as unknown as Row[];
      return { peers, total: peers.length };
    },
    text: (d, out) => out.table(d.peers, PEER_COLUMNS, 'no peers'),
  }),

  command<{ connections: Row[]; total: number }>({
    name: 'connections',
    description: "the daemon's connections with their transport state",
    daemon: true,
    returns: {
      connections:
        '[{id, local_port, remote_addr, remote_port, state, cong_win, ssthresh, in_flight, srtt_ms, rttvar_ms, unacked, ooo_buf, peer_recv_win, recv_win, in_recovery, bytes_sent, bytes_recv, segs_sent, segs_recv, retransmits, fast_retx, sack_recv, sack_sent, dup_acks}]',
      total: 'number of connections',
    },
    async run(ctx) {
      const info = await (await ctx.driver()).info({ signal: ctx.requestSignal });
      const connections = (info.conn_list ?? []) as unknown as Row[];
      return { connections, total: connections.length };
    },
    text: (d, out) => out.table(d.connections, CONN_COLUMNS, 'no connections'),
  }),

  command<{ conn_id: number; disconnected: boolean }>({
    name: 'disconnect',
    description: 'close one of the daemon’s connections by id (see `pilot connections`)',
    daemon: true,
    args: [arg('id', 'connection id')],
    returns: { conn_id: 'connection id', disconnected: 'true' },
    async run(ctx, input) {
      const text = input.args.id as string;
      if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) {
        throw new CliError('invalid_argument', `connection id "${text}" is not a number`);
      }
      const id = Number(text);
      try {
        await (await ctx.driver()).disconnect(id, { signal: ctx.requestSignal });
      } catch (err) {
        if (isPilotError(err, 'ERR_CLOSED')) throw new CliError('not_found', `connection ${id} not found`);
        throw err;
      }
      return { conn_id: id, disconnected: true };
    },
    text: (d, out) => out.line(`connection ${d.conn_id} closed`),
  }),
];
