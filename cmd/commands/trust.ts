/**
 * Trust handshakes (port 444) through the daemon: `handshake`, `approve`, `reject`, `untrust`, `pending`, `trust`.
 * A daemon without handshakes answers ERR_NOT_IMPLEMENTED, shown as `unavailable`.
 */
import { arg, command, type CommandSpec } from '../command-spec.js';
import type { Row } from '../output.js';

type Json = Record<string, unknown>;

const NODE = arg('node', 'node ID, address or hostname');

export const trustCommands: CommandSpec[] = [
  command<Json>({
    name: 'handshake',
    description: 'ask a node for mutual trust',
    daemon: true,
    args: [NODE, arg('justification', 'why (shown to the other side)', { default: '' })],
    returns: { status: '"sent"', node_id: 'node ID' },
    async run(ctx, input) {
      const node = await ctx.resolveNode(input.args.node as string);
      return (await ctx.driver()).handshake(node, (input.args.justification as string) ?? '', {
        signal: ctx.requestSignal,
      });
    },
  }),
  command<Json>({
    name: 'approve',
    description: 'approve a pending trust request',
    daemon: true,
    args: [NODE],
    returns: { status: '"approved"', node_id: 'node ID' },
    async run(ctx, input) {
      return (await ctx.driver()).approveHandshake(await ctx.resolveNode(input.args.node as string), {
        signal: ctx.requestSignal,
      });
    },
  }),
  command<Json>({
    name: 'reject',
    description: 'reject a pending trust request',
    daemon: true,
    args: [NODE, arg('reason', 'reason (sent to the other side)', { default: '' })],
    returns: { status: '"rejected"', node_id: 'node ID' },
    async run(ctx, input) {
      const node = await ctx.resolveNode(input.args.node as string);
      return (await ctx.driver()).rejectHandshake(node, (input.args.reason as string) ?? '', {
        signal: ctx.requestSignal,
      });
    },
  }),
  command<Json>({
    name: 'untrust',
    description: 'revoke trust in a node',
    daemon: true,
    args: [NODE],
    returns: { status: '"revoked"', node_id: 'node ID' },
    async run(ctx, input) {
      return (await ctx.driver()).revokeTrust(await ctx.resolveNode(input.args.node as string), {
        signal: ctx.requestSignal,
      });
    },
  }),
  command<{ pending: Row[]; total: number }>({
    name: 'pending',
    description: 'trust requests waiting for approve/reject',
    daemon: true,
    returns: { pending: '[{node_id, public_key, justification, received_at}]', total: 'count' },
    async run(ctx) {
      const r = await (await ctx.driver()).pendingHandshakes({ signal: ctx.requestSignal });
      const pending = Array.isArray(r.pending) ? (r.pending as Row[]) : [];
      return { pending, total: pending.length };
    },
    text: (d, out) =>
      out.table(d.pending, ['node_id', 'received_at', 'justification'], 'no pending requests'),
  }),
  command<{ trusted: Row[]; total: number }>({
    name: 'trust',
    description: 'trusted peers',
    daemon: true,
    returns: { trusted: '[{node_id, public_key, approved_at, mutual, network}]', total: 'count' },
    async run(ctx) {
      const r = await (await ctx.driver()).trustedPeers({ signal: ctx.requestSignal });
      const trusted = Array.isArray(r.trusted) ? (r.trusted as Row[]) : [];
      return { trusted, total: trusted.length };
    },
    text: (d, out) =>
      out.table(d.trusted, ['node_id', 'approved_at', 'mutual', 'network'], 'no trusted peers'),
  }),
];
