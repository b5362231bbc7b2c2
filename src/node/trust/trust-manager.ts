/**
 * The trust manager (reference §9): the handshake service on port 444, the registry relay (request_handshake /
 * poll_handshakes / respond_handshake), the trust store (trust.json), and the coreapi `TrustChecker`.
 *
 * Rules for an authenticated request from a peer: already trusted → accept; we had asked it too → trusted
 * (mutual), accept; we share a non-backbone network → trusted (network), accept; otherwise pending until
 * `approve` / `reject`. An accept is honoured only when we asked the peer; a reject drops our request; a revoke
 * removes everything about the peer, removes the registry trust pair and tears down its tunnel.
 *
 * Inbound direct messages pass the checks in inbound-check.ts first. Refused input is dropped, counted and
 * published as `security.handshake_dropped`; it never throws.
 */
import { setMaxListeners } from 'node:events';
import { formatAddr, makeAddr } from '../../coreapi/addr.js';
import type { Logger } from '../../coreapi/logger.js';
import type { Listener, Stream } from '../../coreapi/streams.js';
import { clipUtf8 } from '../../coreapi/text.js';
import type { TrustChecker } from '../../coreapi/trust.js';
import { checkNodeId, checkText, noPending, validPeer } from './arguments.js';
import * as C from './constants.js';
import { TrustError } from './errors.js';
import { readHandshake } from './handshake-channel.js';
import { HandshakeType, type DropReason } from './handshake-message.js';
import { errText, HandshakeOutbox } from './handshake-outbox.js';
import { verifyInbound } from './inbound-check.js';
import {
  TrustManagerState,
  type PendingRow,
  type TrustedRow,
  type TrustManagerOptions,
  type TrustRegistry,
  type Via,
} from './manager-types.js';
import { ReplayCache } from './replay-cache.js';
import { StoreWriter } from './store-writer.js';
import { TaskSet } from './task-set.js';
import { TrustCounterSet, type TrustCounters } from './trust-counters.js';
import { loadTrustFile } from './trust-file.js';
import { TrustState, TrustStore, type PeerEntries, type TrustRecord } from './trust-store.js';

export class TrustManager implements TrustChecker {
  readonly #o: TrustManagerOptions;
  readonly #reg: TrustRegistry;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #pollMs: number;
  readonly #replay = new ReplayCache();
  readonly #abort = new AbortController();
  readonly #tasks: TaskSet;
  readonly #writer: StoreWriter;
  readonly #out: HandshakeOutbox;
  readonly #counters = new TrustCounterSet();
  readonly #names = new Map<number, { readonly name: string }>();
  #store = new TrustStore();
  #state = TrustManagerState.Idle;
  #listener: Listener | null = null;
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  #starting: Promise<Listener> | null = null;
  #inbound = 0;
  /** Inbound streams being handled, per peer (entries removed at 0, so at most MAX_INBOUND of them). */
  readonly #inboundBy = new Map<number, number>();

  constructor(options: TrustManagerOptions) {
    this.#o = options;
    this.#reg = options.registry;
    this.#log = options.logger.child({ component: 'trust' });
    this.#clock = options.clock ?? Date.now;
    this.#pollMs = options.pollIntervalMs ?? C.DEFAULT_POLL_INTERVAL_MS;
    // Every inbound read, delivery and registry call listens on this one stop signal (up to MAX_INBOUND
    // reads alone at once); each removes its listener when done, so the leak warning would be a false alarm.
    setMaxListeners(0, this.#abort.signal);
    this.#tasks = new TaskSet(this.#log);
    this.#out = new HandshakeOutbox({
      streams: options.streams,
      identity: options.identity,
      registry: options.registry,
      port: options.port ?? C.HANDSHAKE_PORT,
      directTimeoutMs: options.directTimeoutMs ?? C.DEFAULT_DIRECT_TIMEOUT_MS,
      clock: this.#clock,
      signal: this.#abort.signal,
      log: this.#log,
      counters: this.#counters,
      tasks: this.#tasks,
    });
    this.#writer = new StoreWriter(
      options.storePath,
      () => this.#store,
      this.#log,
      () => this.#counters.values.storeErrors++,
    );
  }

  get state(): TrustManagerState {
    return this.#state;
  }

  /** Load trust.json, listen on port 444, start relay polling (one poll right away). */
  async start(): Promise<void> {
    if (this.#state !== TrustManagerState.Idle) {
      throw new TrustError('ERR_TRUST_UNAVAILABLE', `trust manager cannot start: it is ${this.#state}`);
    }
    this.#state = TrustManagerState.Starting;
    this.#starting = this.#open();
    let listener: Listener;
    try {
      listener = await this.#starting;
    } catch (err) {
      this.#state = TrustManagerState.Stopped;
      throw err;
    } finally {
      this.#starting = null;
    }
    if (this.#abort.signal.aborted) {
      // stop() ran meanwhile: it waited for #open and closes the listener; nothing may start now.
      throw new TrustError('ERR_TRUST_UNAVAILABLE', 'the trust manager was stopped while starting');
    }
    this.#state = TrustManagerState.Running;
    this.#tasks.track(this.#acceptLoop(listener));
    if (this.#pollMs > 0) {
      this.#timer = setInterval(() => void this.poll(), this.#pollMs);
      this.#timer.unref();
    }
    void this.poll();
  }

  async #open(): Promise<Listener> {
    if (this.#o.storePath !== null) this.#store = await loadTrustFile(this.#o.storePath);
    this.#listener = await this.#o.streams.listen(this.#o.port ?? C.HANDSHAKE_PORT);
    return this.#listener;
  }

  /** Stop polling and listening, wait for work in flight (bounded by its timeouts), write the store. */
  async stop(): Promise<void> {
    if (this.#state === TrustManagerState.Stopped || this.#state === TrustManagerState.Stopping) return;
    this.#state = TrustManagerState.Stopping;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#abort.abort();
    // A start() in flight (loading trust.json, binding the port) finishes first, so its listener is closed here.
    await this.#starting?.catch(() => undefined);
    await this.#listener?.close().catch(() => undefined);
    await this.#tasks.drain();
    await this.#writer.idle();
    this.#state = TrustManagerState.Stopped;
  }

  // ---- TrustChecker, state, counters --------------------------------------------------------------

  isTrusted(nodeId: number): { readonly name: string } | null {
    if (this.#store.stateOf(nodeId) !== TrustState.Trusted) return null;
    let n = this.#names.get(nodeId);
    if (n === undefined) {
      n = Object.freeze({ name: formatAddr(makeAddr(0, nodeId)) });
      this.#names.set(nodeId, n);
    }
    return n;
  }

  /** A frozen object with only `isTrusted`, to hand to plugins as `deps.trust`. */
  checker(): TrustChecker {
    return Object.freeze({ isTrusted: (nodeId: number) => this.isTrusted(nodeId) });
  }

  stateOf(nodeId: number): TrustState {
    return this.#store.stateOf(nodeId);
  }

  counters(): TrustCounters {
    return this.#counters.snapshot();
  }

  // ---- the IPC operations (reference §8 shapes) --------------------------------------------------

  /** Ask `nodeId` for trust: directly on port 444, else through the registry relay. */
  async send(nodeId: number, justification = ''): Promise<{ status: 'sent'; node_id: number }> {
    this.#checkRunning();
    checkNodeId(nodeId, this.#o.identity.nodeId);
    checkText('justification', justification);
    const wire = this.#out.encode(nodeId, HandshakeType.Request, { justification });
    const before = this.#store.entriesOf(nodeId);
    this.#store.addOutgoing({ nodeId, sentAt: new Date(this.#clock()) }, C.MAX_OUTGOING);
    const after = this.#store.entriesOf(nodeId);
    await this.#commit(nodeId, before, after);
    const d = await this.#out.deliver(nodeId, wire);
    let via: Via = 'direct';
    if (!d.delivered) {
      try {
        await this.#reg.requestHandshake(nodeId, justification, this.#out.call());
      } catch (err) {
        this.#counters.values.sendFailed++;
        // Take the mark back, unless the peer's state changed meanwhile (its request or accept came in).
        if (this.#store.restore(nodeId, before, after)) await this.#writer.saveQuietly();
        throw new TrustError(
          'ERR_TRUST_SEND_FAILED',
          `handshake to node ${nodeId} failed: not reachable directly (${errText(d.error)}) ` +
            `and the registry relay refused: ${errText(err)}`,
          { cause: err, details: { nodeId } },
        );
      }
      via = 'relay';
      this.#counters.values.sentRelay++;
    }
    this.#o.events.publish('handshake.sent', { peer_node_id: nodeId, via });
    return { status: 'sent', node_id: nodeId };
  }

  /** Approve a pending request: trusted (mutual), report_trust, respond_handshake(accept), direct accept. */
  async approve(nodeId: number): Promise<{ status: 'approved'; node_id: number }> {
    this.#checkRunning();
    const p = this.#store.pendingRecord(nodeId);
    if (!p) throw noPending(nodeId);
    const before = this.#store.entriesOf(nodeId);
    this.#trust({ nodeId, publicKey: p.publicKey, mutual: true, network: 0 });
    await this.#commit(nodeId, before);
    this.#o.events.publish('handshake.approved', { peer_node_id: nodeId, by: 'local' });
    this.#tasks.run('direct accept', this.#out.direct(nodeId, HandshakeType.Accept, {}));
    await Promise.all([
      this.#out.quietly('report_trust', (c) => this.#reg.reportTrust(nodeId, c)),
      this.#out.quietly('respond_handshake', (c) => this.#reg.respondHandshake(nodeId, true, c)),
    ]);
    return { status: 'approved', node_id: nodeId };
  }

  /** Reject a pending request; the reason travels with the direct reject (the relay carries none). */
  async reject(nodeId: number, reason = ''): Promise<{ status: 'rejected'; node_id: number }> {
    this.#checkRunning();
    checkText('reason', reason);
    const wire = this.#out.encode(nodeId, HandshakeType.Reject, { reason });
    const before = this.#store.entriesOf(nodeId);
    if (!this.#store.removePending(nodeId)) throw noPending(nodeId);
    await this.#commit(nodeId, before);
    this.#o.events.publish('handshake.rejected', { peer_node_id: nodeId, reason, by: 'local' });
    this.#tasks.run('direct reject', this.#out.deliver(nodeId, wire));
    await this.#out.quietly('respond_handshake', (c) => this.#reg.respondHandshake(nodeId, false, c));
    return { status: 'rejected', node_id: nodeId };
  }

  /** Revoke trust: forget the peer, tell it (best effort), remove the registry pair, drop its tunnel. */
  async revoke(nodeId: number): Promise<{ status: 'revoked'; node_id: number }> {
    this.#checkRunning();
    if (this.#store.stateOf(nodeId) !== TrustState.Trusted) {
      throw new TrustError('ERR_TRUST_NOT_FOUND', `node ${nodeId} is not trusted`, { details: { nodeId } });
    }
    const before = this.#store.entriesOf(nodeId);
    this.#forget(nodeId);
    await this.#commit(nodeId, before);
    const d = await this.#out.direct(nodeId, HandshakeType.Revoke, {});
    await d.closed;
    await this.#out.quietly('revoke_trust', (c) => this.#reg.revokeTrust(nodeId, c));
    this.#o.dropPeer(nodeId);
    this.#o.events.publish('trust.revoked', { peer_node_id: nodeId });
    return { status: 'revoked', node_id: nodeId };
  }

  pending(): { pending: PendingRow[] } {
    return { pending: this.#store.pendingRows() };
  }

  trusted(): { trusted: TrustedRow[] } {
    return { trusted: this.#store.trustedRows() };
  }

  /** Re-report every local trust pair to the registry (after a re-registration). Resolves with the count. */
  async restoreRegistryTrust(): Promise<number> {
    let n = 0;
    for (const r of this.#store.trusted()) {
      if (await this.#out.quietly('report_trust', (c) => this.#reg.reportTrust(r.nodeId, c))) n++;
    }
    return n;
  }

  // ---- relay polling ------------------------------------------------------------------------------

  /** One poll_handshakes round (concurrent calls share it). Never rejects. */
  poll(): Promise<void> {
    if (this.#state !== TrustManagerState.Running || this.#o.identity.nodeId === 0) return Promise.resolve();
    if (this.#polling) return this.#polling;
    this.#polling = this.#tasks.track(
      this.#pollOnce().finally(() => {
        this.#polling = null;
      }),
    );
    return this.#polling;
  }

  async #pollOnce(): Promise<void> {
    let answer: unknown;
    try {
      answer = await this.#reg.pollHandshakes(this.#out.call());
      this.#counters.values.polls++;
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      this.#counters.values.pollErrors++;
      this.#log.debug({ err: errText(err) }, 'poll_handshakes failed');
      return;
    }
    const requests = listOf(answer, 'requests');
    const responses = listOf(answer, 'responses');
    if (requests === null || responses === null) {
      this.#counters.values.pollErrors++;
      this.#log.warn('poll_handshakes answer has the wrong shape; ignored');
      return;
    }
    const self = this.#o.identity.nodeId;
    for (const r of requests as (PolledRequest | null)[]) {
      if (!validPeer(r?.from_node_id, self)) {
        this.#drop('malformed', 0, 'relayed request with a bad from_node_id');
        continue;
      }
      this.#counters.values.relayedRequests++;
      const peer = await this.#out.lookup(r.from_node_id);
      const justification = typeof r.justification === 'string' ? r.justification : '';
      await this.#onRequest(r.from_node_id, peer?.key ?? '', peer?.networks ?? [], justification, 'relay');
    }
    for (const r of responses as (PolledResponse | null)[]) {
      if (!validPeer(r?.from_node_id, self) || typeof r.accept !== 'boolean') {
        this.#drop('malformed', 0, 'relayed response with bad fields');
        continue;
      }
      this.#counters.values.relayedResponses++;
      if (r.accept) {
        const peer = this.#store.hasOutgoing(r.from_node_id) ? await this.#out.lookup(r.from_node_id) : null;
        this.#onAccept(r.from_node_id, peer?.key ?? '', 'relay');
      } else {
        this.#onReject(r.from_node_id, '', 'relay');
      }
    }
  }

  // ---- inbound direct messages ---------------------------------------------------------------------

  async #acceptLoop(listener: Listener): Promise<void> {
    for (;;) {
      let s: Stream;
      try {
        s = await listener.accept();
      } catch {
        return;
      }
      const from = s.remoteAddr.node;
      const fromPeer = this.#inboundBy.get(from) ?? 0;
      if (this.#inbound >= C.MAX_INBOUND || fromPeer >= C.MAX_INBOUND_PER_PEER) {
        this.#drop('overloaded', from, 'too many handshake streams at once');
        s.destroy();
        continue;
      }
      this.#inbound++;
      this.#inboundBy.set(from, fromPeer + 1);
      this.#tasks.run(
        'inbound handshake',
        this.#handleInbound(s).finally(() => this.#inboundDone(from)),
      );
    }
  }

  async #handleInbound(s: Stream): Promise<void> {
    const from = s.remoteAddr.node;
    const { result, closed } = await readHandshake(s, {
      timeoutMs: this.#o.readTimeoutMs,
      signal: this.#abort.signal,
    });
    if (this.#abort.signal.aborted) return;
    this.#counters.values.received++;
    if (!result.ok) return this.#drop(result.reason, from, result.detail);
    const m = result.message;
    const v = await verifyInbound(m, {
      from,
      self: this.#o.identity.nodeId,
      clock: this.#clock,
      replay: this.#replay,
      registry: this.#reg,
      call: this.#out.call(),
    });
    if (!v.ok) return this.#drop(v.reason, from, v.detail);
    this.#counters.values.accepted++;
    switch (m.type) {
      case HandshakeType.Request:
        return this.#onRequest(from, v.key, v.networks, m.justification, 'direct');
      case HandshakeType.Accept:
        return this.#onAccept(from, v.key, 'direct');
      case HandshakeType.Reject:
        return this.#onReject(from, m.reason, 'direct');
      case HandshakeType.Revoke:
        return this.#onRevoke(from, closed);
    }
  }

  #inboundDone(from: number): void {
    this.#inbound--;
    const n = (this.#inboundBy.get(from) ?? 1) - 1;
    if (n > 0) this.#inboundBy.set(from, n);
    else this.#inboundBy.delete(from);
  }

  // ---- the rules ----------------------------------------------------------------------------------

  async #onRequest(from: number, key: string, networks: readonly number[], text: string, via: Via) {
    // Kept in trust.json (up to maxPending of them) and listed over IPC: no longer than what we may send.
    const justification = clipUtf8(text, C.MAX_TEXT_BYTES);
    this.#o.events.publish('handshake.received', { peer_node_id: from, justification, via });
    const early = this.#store.stateOf(from) === TrustState.Trusted || this.#store.hasOutgoing(from);
    const network = early ? 0 : await this.#out.sharedNetwork(networks);
    // Decide on the state as it is now (the lookup above may have taken a while).
    if (this.#store.stateOf(from) === TrustState.Trusted) {
      this.#store.backfillKey(from, key);
      this.#out.respond(from, true, via);
      return;
    }
    if (this.#store.hasOutgoing(from) || network !== 0) {
      const reason = this.#store.hasOutgoing(from) ? 'mutual' : 'same_network';
      this.#trust({ nodeId: from, publicKey: key, mutual: reason === 'mutual', network });
      await this.#writer.saveQuietly();
      this.#o.events.publish('handshake.auto_approved', { peer_node_id: from, reason, network });
      this.#tasks.run(
        'report_trust',
        this.#out.quietly('report_trust', (c) => this.#reg.reportTrust(from, c)),
      );
      this.#out.respond(from, true, via);
      return;
    }
    const max = this.#o.maxPending ?? C.MAX_PENDING;
    if (this.#store.stateOf(from) !== TrustState.Pending && this.#store.pendingCount >= max) {
      return this.#drop('pending_full', from, `${max} requests already pending`);
    }
    this.#store.setPending({
      nodeId: from,
      publicKey: key,
      justification,
      receivedAt: new Date(this.#clock()),
    });
    await this.#writer.saveQuietly();
    this.#o.events.publish('handshake.pending', { peer_node_id: from, justification });
  }

  #onAccept(from: number, key: string, via: Via): void {
    if (this.#store.stateOf(from) === TrustState.Trusted) {
      // A second copy (direct and relay), or the answer to a request re-sent to a trusted peer.
      if (this.#store.removeOutgoing(from)) this.#tasks.run('persist', this.#writer.saveQuietly());
      return;
    }
    if (!this.#store.hasOutgoing(from)) {
      if (via === 'direct') this.#drop('unsolicited', from, 'accept without a request of ours');
      return;
    }
    this.#trust({ nodeId: from, publicKey: key, mutual: true, network: 0 });
    this.#tasks.run('persist', this.#writer.saveQuietly());
    this.#o.events.publish('handshake.approved', { peer_node_id: from, by: 'peer' });
    this.#tasks.run(
      'report_trust',
      this.#out.quietly('report_trust', (c) => this.#reg.reportTrust(from, c)),
    );
  }

  #onReject(from: number, reason: string, via: Via): void {
    if (this.#store.stateOf(from) === TrustState.Trusted || !this.#store.removeOutgoing(from)) {
      this.#log.debug({ peer: from, via }, 'reject for no request of ours ignored');
      return;
    }
    this.#tasks.run('persist', this.#writer.saveQuietly());
    this.#o.events.publish('handshake.rejected', { peer_node_id: from, reason, by: 'peer' });
  }

  async #onRevoke(from: number, closed: Promise<void>): Promise<void> {
    if (this.#store.stateOf(from) === TrustState.None) return;
    this.#forget(from);
    await this.#writer.saveQuietly();
    await closed;
    await this.#out.quietly('revoke_trust', (c) => this.#reg.revokeTrust(from, c));
    this.#o.dropPeer(from);
    this.#o.events.publish('trust.revoked_by_peer', { peer_node_id: from });
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /**
   * Write a local change of `nodeId`'s records (`before` → `after`, the state now). If the write fails, the
   * change is undone (unless something else changed the peer meanwhile) and the ERR_TRUST_STORE_IO rethrown:
   * an operation that reports a failure has changed nothing, and can simply be retried.
   */
  async #commit(nodeId: number, before: PeerEntries, after = this.#store.entriesOf(nodeId)): Promise<void> {
    try {
      await this.#writer.save();
    } catch (err) {
      if (this.#store.restore(nodeId, before, after)) this.#o.invalidatePeer?.(nodeId);
      throw err;
    }
  }

  #trust(r: Omit<TrustRecord, 'approvedAt'>): void {
    this.#store.setTrusted({ ...r, approvedAt: new Date(this.#clock()) });
    this.#o.invalidatePeer?.(r.nodeId);
  }

  #forget(nodeId: number): void {
    this.#store.forget(nodeId);
    this.#o.invalidatePeer?.(nodeId);
  }

  #drop(reason: DropReason, peer: number, detail: string): void {
    this.#counters.drop(reason);
    this.#log.debug({ peer, reason, detail }, 'handshake message dropped');
    this.#o.events.publish('security.handshake_dropped', { peer_node_id: peer, reason });
  }

  #checkRunning(): void {
    if (this.#state !== TrustManagerState.Running) {
      throw new TrustError('ERR_TRUST_UNAVAILABLE', `the trust manager is ${this.#state}`);
    }
  }
}

type PollAnswer = Awaited<ReturnType<TrustRegistry['pollHandshakes']>>;
type PolledRequest = NonNullable<PollAnswer['requests']>[number];
type PolledResponse = NonNullable<PollAnswer['responses']>[number];

/** `answer[key]` as a list (absent or null: empty), or null when the answer or the field is not what it should be. */
function listOf(answer: unknown, key: 'requests' | 'responses'): readonly unknown[] | null {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return null;
  const v = (answer as Record<string, unknown>)[key];
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : null;
}

/** Create (not start) a trust manager. */
export function createTrustManager(options: TrustManagerOptions): TrustManager {
  return new TrustManager(options);
}
