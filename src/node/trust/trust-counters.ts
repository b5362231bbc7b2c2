/** The trust manager's counters: inbound messages, drops by reason, deliveries, polls, store errors. */
import { DROP_REASONS, type DropReason } from './handshake-message.js';

export interface TrustCounters {
  /** Direct messages read from port 444 (valid or not). */
  readonly received: number;
  /** Direct messages that passed every check. */
  readonly accepted: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  readonly sentDirect: number;
  readonly sentRelay: number;
  readonly sendFailed: number;
  readonly polls: number;
  readonly pollErrors: number;
  readonly relayedRequests: number;
  readonly relayedResponses: number;
  readonly storeErrors: number;
}

type Plain = Omit<TrustCounters, 'dropped'>;

export class TrustCounterSet {
  readonly values: { -readonly [K in keyof Plain]: Plain[K] } = {
    received: 0,
    accepted: 0,
    sentDirect: 0,
    sentRelay: 0,
    sendFailed: 0,
    polls: 0,
    pollErrors: 0,
    relayedRequests: 0,
    relayedResponses: 0,
    storeErrors: 0,
  };
  readonly #dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;

  drop(reason: DropReason): void {
    this.#dropped[reason]++;
  }

  snapshot(): TrustCounters {
    return { ...this.values, dropped: { ...this.#dropped } };
  }
}
