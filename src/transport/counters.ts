/** Tunnel counters: packets, bytes and drops by reason, per node and per peer. Plain numeric fields. */

export const DROP_REASONS = [
  'short',
  'unknown_magic',
  'oversized',
  'bad_frame',
  'bad_packet',
  'no_session',
  'bad_tag',
  'replay',
  'too_old',
  'spoofed_source',
  'plaintext_refused',
  'kx_unexpected',
  'kx_unknown_key',
  'kx_wrong_key',
  'kx_bad_signature',
  'kx_bad_key',
  'kx_unauthenticated_refused',
  'kx_lookup_busy',
  'kx_timeout',
  'queue_overflow',
  'no_route',
  'send_error',
  'peer_table_full',
  'beacon',
  'relay_not_from_beacon',
  'kx_unverified_move',
  /** A datagram from UDP source port 0: spoofed (no socket sends from it) and unanswerable. */
  'bad_source',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export type DropCounts = Record<DropReason, number>;

export function emptyDrops(): DropCounts {
  const d = {} as DropCounts;
  for (const r of DROP_REASONS) d[r] = 0;
  return d;
}

export class TrafficCounters {
  txPackets = 0;
  txBytes = 0;
  rxPackets = 0;
  rxBytes = 0;
  /** Valid packets delivered up to the streams layer. */
  delivered = 0;
  readonly drops: DropCounts = emptyDrops();

  snapshot(): TrafficSnapshot {
    let dropped = 0;
    for (const r of DROP_REASONS) dropped += this.drops[r];
    return {
      txPackets: this.txPackets,
      txBytes: this.txBytes,
      rxPackets: this.rxPackets,
      rxBytes: this.rxBytes,
      delivered: this.delivered,
      dropped,
      drops: { ...this.drops },
    };
  }
}

export interface TrafficSnapshot {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  delivered: number;
  dropped: number;
  drops: DropCounts;
}
