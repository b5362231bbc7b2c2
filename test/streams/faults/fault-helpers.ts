/**
 * Helpers for the fault-injection scenarios: a node pair joined by the UDP relay, event-based readers,
 * a one-way hashed transfer, and the connection-cleanup check every scenario ends with.
 */
import { expect } from 'vitest';
import type { StaticNode } from '../../../src/node/static-node.js';
import type { Stream } from '../../../src/coreapi/streams.js';
import type { StreamStackOptions } from '../../../src/streams/stack.js';
import { ConnState } from '../../../src/streams/state.js';
import type { FaultConfig, UdpRelay } from '../../helpers/udp-relay.js';
import { waitFor, within } from '../../helpers/wait.js';
import { pair, randomData, sha256 } from '../helpers.js';

export { randomData, sha256 };

/** Stream timings small enough for CI scenarios (every scenario may override). */
export const FAST: Partial<StreamStackOptions> = {
  synRtoMs: 200,
  initialRtoMs: 300,
  minRtoMs: 100,
  timeWaitMs: 300,
  dialTimeoutMs: 10_000,
  synRatePerSource: 100_000,
  synRateGlobal: 100_000,
};

export interface FaultPair {
  a: StaticNode;
  b: StaticNode;
  relay: UdpRelay;
}

/** Node A reaches node B through a relay with these faults (`both` applies to each direction). */
export async function faultPair(
  opts: {
    streams?: Partial<StreamStackOptions>;
    both?: FaultConfig;
    up?: FaultConfig;
    down?: FaultConfig;
    seed?: number;
  } = {},
): Promise<FaultPair> {
  const up = { ...opts.both, ...opts.up };
  const down = { ...opts.both, ...opts.down };
  const { a, b, relay } = await pair({ ...FAST, ...opts.streams }, { up, down, seed: opts.seed ?? 7 });
  if (relay === null) throw new Error('pair() returned no relay');
  return { a, b, relay };
}

/**
 * Read a stream to its end with 'data'/'end' events (never `for await`, which destroys the Duplex when the
 * readable side ends). Rejects on 'error', and on 'close' without 'end'.
 */
export function readAll(s: Stream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    s.once('error', reject);
    s.once('close', () => {
      if (!ended) reject(new Error(`stream closed before end (${chunks.length} chunks read)`));
    });
  });
}

/** The error a stream closes with (null for a clean close), without an unhandled 'error'. */
export function closeError(s: Stream): Promise<(Error & { code?: string }) | null> {
  return new Promise((resolve) => {
    let err: (Error & { code?: string }) | null = null;
    s.on('error', (e: Error) => {
      err = e;
    });
    if (s.destroyed) {
      resolve((s.errored as Error | null) ?? (s as { closeError?: Error | null }).closeError ?? null);
      return;
    }
    s.once('close', () => resolve(err ?? (s as { closeError?: Error | null }).closeError ?? null));
  });
}

export { within };

export interface TransferResult {
  ms: number;
  sent: Stream;
  recv: Stream;
}

/**
 * One-way transfer A → B on `port`: B accepts and reads to the end, then closes its side; A writes `data`
 * with `end()` at once and reads B's end. Checks length and SHA-256. Returns the duration and the streams.
 */
export async function transfer(
  p: { a: StaticNode; b: StaticNode },
  port: number,
  data: Buffer,
  opts: {
    timeoutMs?: number;
    chunk?: number;
    /** Called with the receiver's byte count on every chunk. */
    onProgress?: (received: number) => void;
    /** Called with the sending stream once dialed. */
    onDial?: (c: Stream) => void;
  } = {},
): Promise<TransferResult> {
  const l = await p.b.streams.listen(port);
  try {
    const t0 = performance.now();
    const server = (async () => {
      const s = await l.accept();
      const progress = opts.onProgress;
      if (progress !== undefined) {
        let n = 0;
        s.on('data', (c: Buffer) => progress((n += c.length)));
      }
      const got = await readAll(s);
      s.end();
      return { s, got };
    })();
    const c = await p.a.streams.dial(p.b.addr, port);
    const clientEnd = readAll(c);
    // Awaited below only on success; never an unhandled rejection when the transfer fails first.
    clientEnd.catch(() => {});
    opts.onDial?.(c);
    if (opts.chunk === undefined) c.end(data);
    else {
      for (let off = 0; off < data.length; off += opts.chunk) c.write(data.subarray(off, off + opts.chunk));
      c.end();
    }
    const { s, got } = await within(server, opts.timeoutMs ?? 15_000, `transfer of ${data.length} bytes`);
    const ms = performance.now() - t0;
    expect(got.length).toBe(data.length);
    expect(sha256(got)).toBe(sha256(data));
    expect((await within(clientEnd, 5000, 'client sees server FIN')).length).toBe(0);
    return { ms, sent: c, recv: s };
  } finally {
    await l.close();
  }
}

/** Connections that are neither gone nor in TIME_WAIT. */
export function liveConns(n: StaticNode): { id: number; state: string; port: number }[] {
  return n.streams
    .connections()
    .filter((c) => c.state !== ConnState.TIME_WAIT)
    .map((c) => ({ id: c.id, state: c.state, port: c.localPort }));
}

/** Both stacks eventually hold no ESTABLISHED (or other live) connection. */
export async function expectCleanedUp(p: { a: StaticNode; b: StaticNode }, timeoutMs = 5000): Promise<void> {
  try {
    await waitFor(
      () => liveConns(p.a).length === 0 && liveConns(p.b).length === 0,
      timeoutMs,
      'connections to close',
    );
  } catch {
    // Show what lingers.
    expect({ a: liveConns(p.a).slice(0, 5), b: liveConns(p.b).slice(0, 5) }).toEqual({ a: [], b: [] });
  }
}

/** Print a figure for the report (kept short; vitest shows console output per test). */
export function note(msg: string): void {
  if (process.env.FAULTS_QUIET === undefined) console.log(`[faults] ${msg}`);
}
