/**
 * Load generator for the registry suite: several TCP connections, each keeping a fixed window of pre-encoded
 * request frames in flight (pipelined, answers in order), counting answers. The same generator drives the
 * registry and the raw baseline server, so both see identical client behaviour.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/registry/frame-codec.js';

export interface LoadOptions {
  port: number;
  /** Complete frames (length prefix included), sent round-robin. */
  frames: Buffer[];
  connections: number;
  /** Requests in flight per connection. */
  window: number;
  /** Stop after this long (ms) of measurement... */
  durationMs?: number;
  /** ...or after sending every frame exactly once. */
  once?: boolean;
  /** Answers during this initial period are not counted. */
  warmupMs?: number;
  /** Answers must start with this text (e.g. `{"type":"lookup_ok"`); others count as errors. */
  expect?: string;
}

export interface LoadResult {
  /** Answers counted in the measured window. */
  answers: number;
  /** All answers, warm-up included. */
  total: number;
  errors: number;
  seconds: number;
  perSecond: number;
  firstError: string | null;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const expect = o.expect ? Buffer.from(o.expect) : null;
  let next = 0;
  let answers = 0;
  let total = 0;
  let errors = 0;
  let firstError: string | null = null;
  let measuring = !o.warmupMs;
  let sending = true;
  let t0 = performance.now();
  const take = (): Buffer | null => {
    if (!sending) return null;
    if (o.once && next >= o.frames.length) return null;
    const f = o.frames[next % o.frames.length];
    next++;
    return f;
  };
  const sockets: Socket[] = [];
  const done = Array.from({ length: o.connections }, async () => {
    const sock = connect({ host: '127.0.0.1', port: o.port });
    sock.setNoDelay(true);
    sockets.push(sock);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    let inflight = 0;
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    const out: Buffer[] = [];
    await new Promise<void>((resolve) => {
      const onFrame = (payload: Buffer): void => {
        inflight--;
        total++;
        const ok = expect === null || payload.subarray(0, expect.length).equals(expect);
        if (measuring) {
          if (ok) answers++;
          else {
            errors++;
            firstError ??= payload.toString('utf8', 0, Math.min(payload.length, 200));
          }
        }
        const f = take();
        if (f) {
          out.push(f);
          inflight++;
        }
      };
      sock.on('data', (chunk: Buffer) => {
        decoder.push(chunk, onFrame);
        if (out.length > 0) {
          sock.write(out.length === 1 ? out[0] : Buffer.concat(out));
          out.length = 0;
        }
        if (inflight === 0) resolve();
      });
      sock.on('close', () => resolve());
      const first: Buffer[] = [];
      for (let i = 0; i < o.window; i++) {
        const f = take();
        if (!f) break;
        first.push(f);
        inflight++;
      }
      if (first.length === 0) resolve();
      else sock.write(Buffer.concat(first));
    });
    sock.destroy();
  });
  if (o.warmupMs) {
    await new Promise((r) => setTimeout(r, o.warmupMs));
    measuring = true;
    t0 = performance.now();
  }
  let stopTimer: NodeJS.Timeout | null = null;
  if (o.durationMs !== undefined) stopTimer = setTimeout(() => (sending = false), o.durationMs);
  await Promise.all(done);
  if (stopTimer) clearTimeout(stopTimer);
  const seconds = (performance.now() - t0) / 1000;
  return { answers, total, errors, seconds, perSecond: answers / seconds, firstError };
}
