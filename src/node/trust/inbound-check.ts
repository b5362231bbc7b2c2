/**
 * The checks an inbound direct message passes before it counts, in order: the claimed sender is the stream's
 * (tunnel-authenticated) node and not ourselves, the timestamp is in the window, the message is not a replay,
 * the sender is registered, its key in the message (if any) is the registered key, and the signature verifies.
 * The replay set records a message only after it passed every check.
 */
import { isPilotError } from '../../coreapi/errors.js';
import { registeredPeer, type RegisteredPeer } from './arguments.js';
import {
  checkSignature,
  checkTimestamp,
  handshakeMessageHash,
  type DropReason,
  type HandshakeMessage,
} from './handshake-message.js';
import type { RegistryCallOptions, TrustRegistry } from './manager-types.js';
import type { ReplayCache } from './replay-cache.js';

export type InboundVerdict =
  | { readonly ok: true; readonly key: string; readonly networks: readonly number[] }
  | { readonly ok: false; readonly reason: DropReason; readonly detail: string };

export interface InboundContext {
  /** The node the stream came from. */
  readonly from: number;
  readonly self: number;
  readonly clock: () => number;
  readonly replay: ReplayCache;
  readonly registry: Pick<TrustRegistry, 'lookup'>;
  readonly call: RegistryCallOptions;
}

function no(reason: DropReason, detail: string): InboundVerdict {
  return { ok: false, reason, detail };
}

export async function verifyInbound(m: HandshakeMessage, ctx: InboundContext): Promise<InboundVerdict> {
  if (m.node_id !== ctx.from) return no('sender_mismatch', `message claims node ${m.node_id}`);
  if (m.node_id === ctx.self) return no('self', 'message from ourselves');
  const now = ctx.clock();
  const when = checkTimestamp(m, Math.floor(now / 1000));
  if (when) return no(when, `timestamp ${m.timestamp}`);
  const hash = handshakeMessageHash(m);
  if (ctx.replay.has(hash, now)) return no('replay', 'message seen before');
  let registered: RegisteredPeer | null;
  try {
    registered = registeredPeer(await ctx.registry.lookup(m.node_id, ctx.call));
  } catch (err) {
    const unknown = isPilotError(err, 'ERR_REGISTRY_NOT_FOUND');
    return no(unknown ? 'unknown_sender' : 'lookup_failed', (err as Error)?.message ?? String(err));
  }
  if (registered === null) return no('lookup_failed', 'the lookup answer has no key');
  const bad = checkSignature(m, Buffer.from(registered.key, 'base64'), ctx.self);
  if (bad) return no(bad, bad === 'wrong_key' ? 'not the registered key' : 'bad signature');
  if (!ctx.replay.add(hash, ctx.clock())) return no('replay', 'message seen before');
  return { ok: true, key: registered.key, networks: registered.networks };
}
