/**
 * What the trust manager sends and asks: signed handshake messages delivered directly on port 444, answers
 * (direct first, registry relay as fallback), and registry calls whose failures are logged rather than thrown.
 * Everything here is bounded by timeouts and cancelled by the manager's stop signal.
 */
import { InvalidArgumentError, isPilotError } from '../../coreapi/errors.js';
import type { Identity } from '../../coreapi/identity.js';
import type { Logger } from '../../coreapi/logger.js';
import type { Streams } from '../../coreapi/streams.js';
import { registeredPeer } from './arguments.js';
import * as C from './constants.js';
import { deliverDirect, type DirectDelivery } from './handshake-channel.js';
import { createHandshakeMessage, encodeHandshakeMessage, HandshakeType } from './handshake-message.js';
import type { RegistryCallOptions, TrustRegistry, Via } from './manager-types.js';
import type { TaskSet } from './task-set.js';
import type { TrustCounterSet } from './trust-counters.js';

export type Texts = { justification?: string; reason?: string };

export interface OutboxOptions {
  streams: Streams;
  identity: Identity;
  registry: TrustRegistry;
  port: number;
  directTimeoutMs: number;
  clock: () => number;
  signal: AbortSignal;
  log: Logger;
  counters: TrustCounterSet;
  tasks: TaskSet;
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class HandshakeOutbox {
  readonly #o: OutboxOptions;

  constructor(options: OutboxOptions) {
    this.#o = options;
  }

  /** Options for every registry call: a deadline and the stop signal. */
  call(): RegistryCallOptions {
    return { timeoutMs: C.REGISTRY_TIMEOUT_MS, signal: this.#o.signal };
  }

  /** A signed message to `peer`, encoded; ERR_INVALID_ARG when it would not fit one message. */
  encode(peer: number, type: HandshakeType, texts: Texts): Buffer {
    const m = createHandshakeMessage(this.#o.identity, type, peer, {
      ...texts,
      timestampS: Math.floor(this.#o.clock() / 1000),
    });
    const wire = encodeHandshakeMessage(m);
    if (wire.length > C.MAX_MESSAGE_BYTES) {
      throw new InvalidArgumentError(
        `the handshake message would be ${wire.length} bytes (max ${C.MAX_MESSAGE_BYTES}); shorten the text`,
      );
    }
    return wire;
  }

  /** Build and deliver one message directly. Never rejects. */
  direct(peer: number, type: HandshakeType, texts: Texts = {}): Promise<DirectDelivery> {
    return this.deliver(peer, this.encode(peer, type, texts));
  }

  /** Deliver an encoded message directly. Never rejects. */
  async deliver(peer: number, wire: Buffer): Promise<DirectDelivery> {
    const d = await deliverDirect(this.#o.streams, peer, this.#o.port, wire, {
      timeoutMs: this.#o.directTimeoutMs,
      signal: this.#o.signal,
    });
    if (d.delivered) this.#o.counters.values.sentDirect++;
    else this.#o.log.debug({ peer, err: errText(d.error) }, 'direct handshake delivery failed');
    return d;
  }

  /** Answer a request in the background: directly first for direct requests, through the relay otherwise. */
  respond(peer: number, accept: boolean, via: Via): void {
    const relay = (): Promise<boolean> =>
      this.quietly('respond_handshake', (c) => this.#o.registry.respondHandshake(peer, accept, c));
    if (via === 'relay') {
      this.#o.tasks.run('respond_handshake', relay());
      return;
    }
    const type = accept ? HandshakeType.Accept : HandshakeType.Reject;
    this.#o.tasks.run(
      'direct answer',
      this.direct(peer, type).then((d) => (d.delivered ? true : relay())),
    );
  }

  /** Run a registry call, logging a failure (a missing trust pair is not one). Resolves true on success. */
  async quietly(what: string, fn: (call: RegistryCallOptions) => Promise<unknown>): Promise<boolean> {
    try {
      await fn(this.call());
      return true;
    } catch (err) {
      if (!this.#o.signal.aborted && !isPilotError(err, 'ERR_REGISTRY_NO_TRUST')) {
        this.#o.log.warn({ op: what, err: errText(err) }, 'registry call failed');
      }
      return false;
    }
  }

  /** The registry's key and networks of a node, or null (logged) when the lookup fails. */
  async lookup(nodeId: number): Promise<{ key: string; networks: readonly number[] } | null> {
    try {
      const r = registeredPeer(await this.#o.registry.lookup(nodeId, this.call()));
      if (r === null) this.#o.log.debug({ peer: nodeId }, 'lookup answer without a key');
      return r;
    } catch (err) {
      this.#o.log.debug({ peer: nodeId, err: errText(err) }, 'lookup failed');
      return null;
    }
  }

  /** The first non-backbone network the peer and we both belong to, or 0. */
  async sharedNetwork(peerNetworks: readonly number[]): Promise<number> {
    const theirs = peerNetworks.filter((n) => n !== 0);
    if (theirs.length === 0) return 0;
    const ours = await this.lookup(this.#o.identity.nodeId);
    return theirs.find((n) => ours?.networks.includes(n)) ?? 0;
  }
}
