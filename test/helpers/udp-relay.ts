/**
 * A real UDP relay for fault injection. Clients send to `relay.address`; the relay forwards to `target` from
 * one upstream socket per client (so the target sees a distinct source endpoint), and forwards replies back.
 *
 * Faults per direction (`up` = client → target, `down` = target → client): drop, corrupt, duplicate, reorder,
 * delay (+ jitter), bandwidth cap with a bounded queue, blackout, and a tap that may rewrite or swallow.
 * `rebind()` replaces every upstream socket: the target then sees the client's traffic from a new port.
 * Randomness is seeded, so a failing run can be replayed.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export interface Endpoint {
  host: string;
  port: number;
}

export interface FaultConfig {
  drop?: number;
  corrupt?: number;
  duplicate?: number;
  /** Probability that a packet is held back and sent after the next one. */
  reorder?: number;
  delayMs?: number;
  jitterMs?: number;
  /** Bytes per second; excess waits in a queue of at most `queueBytes` (then dropped). */
  bandwidth?: number;
  queueBytes?: number;
  /** Return null to swallow, or a (possibly new) buffer to send. */
  tap?: (msg: Buffer) => Buffer | null;
}

export interface RelayStats {
  forwarded: number;
  dropped: number;
  corrupted: number;
  duplicated: number;
  reordered: number;
  queueDrops: number;
}

interface Lane {
  cfg: FaultConfig;
  stats: RelayStats;
  held: { msg: Buffer; send: (m: Buffer) => void } | null;
  /** Time (ms, fractional) when the bandwidth-limited link is free again. */
  linkFreeAt: number;
  queued: number;
  /** Datagrams waiting for the bandwidth-limited link, in order, with their departure times. */
  fifo: { at: number; msg: Buffer; send: (m: Buffer) => void }[];
  draining: boolean;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const newStats = (): RelayStats => ({
  forwarded: 0,
  dropped: 0,
  corrupted: 0,
  duplicated: 0,
  reordered: 0,
  queueDrops: 0,
});

export class UdpRelay {
  readonly target: Endpoint;
  #front: Socket;
  #upstream = new Map<string, { sock: Socket; client: Endpoint }>();
  #up: Lane;
  #down: Lane;
  #rand: () => number;
  #blackoutUntil = 0;
  #timers = new Set<NodeJS.Timeout>();
  #closed = false;
  address: Endpoint = { host: '127.0.0.1', port: 0 };

  private constructor(target: Endpoint, seed: number) {
    this.target = target;
    this.#rand = mulberry32(seed);
    this.#front = createSocket('udp4');
    this.#up = {
      cfg: {},
      stats: newStats(),
      held: null,
      linkFreeAt: 0,
      queued: 0,
      fifo: [],
      draining: false,
    };
    this.#down = {
      cfg: {},
      stats: newStats(),
      held: null,
      linkFreeAt: 0,
      queued: 0,
      fifo: [],
      draining: false,
    };
  }

  static async create(
    target: Endpoint,
    opts: { up?: FaultConfig; down?: FaultConfig; seed?: number } = {},
  ): Promise<UdpRelay> {
    const r = new UdpRelay(target, opts.seed ?? 1);
    r.setFaults(opts.up ?? {}, opts.down ?? {});
    await new Promise<void>((resolve) => r.#front.bind(0, '127.0.0.1', resolve));
    r.#front.setRecvBufferSize(8 * 1024 * 1024);
    r.#front.setSendBufferSize(8 * 1024 * 1024);
    r.address = { host: '127.0.0.1', port: r.#front.address().port };
    r.#front.on('message', (msg, rinfo) => r.#fromClient(msg, rinfo));
    return r;
  }

  setFaults(up: FaultConfig, down: FaultConfig = up): void {
    this.#up.cfg = up;
    this.#down.cfg = down;
  }

  get stats(): { up: RelayStats; down: RelayStats } {
    return { up: this.#up.stats, down: this.#down.stats };
  }

  /** Drop everything in both directions for `ms`. */
  blackout(ms: number): void {
    this.#blackoutUntil = Date.now() + ms;
  }

  /** New upstream sockets: the target sees every client from a new source port. */
  async rebind(): Promise<void> {
    const old = [...this.#upstream.entries()];
    this.#upstream.clear();
    for (const [key, { sock, client }] of old) {
      await this.#upstreamFor(key, client);
      sock.close();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const socks = [this.#front, ...[...this.#upstream.values()].map((u) => u.sock)];
    this.#upstream.clear();
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  #upstreamFor(key: string, client: Endpoint): Promise<Socket> {
    const existing = this.#upstream.get(key);
    if (existing) return Promise.resolve(existing.sock);
    const sock = createSocket('udp4');
    this.#upstream.set(key, { sock, client });
    sock.on('message', (msg) =>
      this.#pass(this.#down, msg, (m) => {
        if (!this.#closed) this.#front.send(m, client.port, client.host);
      }),
    );
    sock.on('error', () => {});
    return new Promise((resolve) => {
      sock.bind(0, '127.0.0.1', () => {
        sock.setRecvBufferSize(8 * 1024 * 1024);
        sock.setSendBufferSize(8 * 1024 * 1024);
        resolve(sock);
      });
    });
  }

  #fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    // Resolve the upstream socket when the datagram leaves (after delays), not when it arrives: rebind()
    // may have replaced it meanwhile.
    const send = (m: Buffer): void => {
      const cur = this.#upstream.get(key);
      if (cur && !this.#closed) {
        try {
          cur.sock.send(m, this.target.port, this.target.host);
        } catch {
          // socket closing: the datagram is lost, as on a real path
        }
      }
    };
    if (this.#upstream.has(key)) this.#pass(this.#up, msg, send);
    else
      void this.#upstreamFor(key, { host: rinfo.address, port: rinfo.port }).then(() => {
        if (!this.#closed) this.#pass(this.#up, msg, send);
      });
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) fn();
    }, ms);
    this.#timers.add(t);
  }

  #pass(lane: Lane, msg: Buffer, send: (m: Buffer) => void): void {
    if (this.#closed) return;
    const cfg = lane.cfg;
    const st = lane.stats;
    if (Date.now() < this.#blackoutUntil || (cfg.drop !== undefined && this.#rand() < cfg.drop)) {
      st.dropped++;
      return;
    }
    let m: Buffer | null = msg;
    if (cfg.tap) {
      m = cfg.tap(msg);
      if (m === null) {
        st.dropped++;
        return;
      }
    }
    if (cfg.corrupt !== undefined && this.#rand() < cfg.corrupt) {
      m = Buffer.from(m);
      const i = Math.floor(this.#rand() * m.length);
      m[i] ^= 1 << Math.floor(this.#rand() * 8);
      st.corrupted++;
    }
    const copies = cfg.duplicate !== undefined && this.#rand() < cfg.duplicate ? 2 : 1;
    if (copies === 2) st.duplicated++;
    for (let i = 0; i < copies; i++) this.#schedule(lane, m, send);
  }

  #schedule(lane: Lane, m: Buffer, send: (m: Buffer) => void): void {
    const cfg = lane.cfg;
    if (cfg.reorder !== undefined && lane.held === null && this.#rand() < cfg.reorder) {
      lane.held = { msg: m, send };
      lane.stats.reordered++;
      // Release a held packet even if nothing follows it.
      this.#later(20, () => this.#releaseHeld(lane));
      return;
    }
    this.#emit(lane, m, send);
    this.#releaseHeld(lane);
  }

  #releaseHeld(lane: Lane): void {
    const h = lane.held;
    if (h === null) return;
    lane.held = null;
    this.#emit(lane, h.msg, h.send);
  }

  #emit(lane: Lane, m: Buffer, send: (m: Buffer) => void): void {
    const cfg = lane.cfg;
    const wait = (cfg.delayMs ?? 0) + (cfg.jitterMs ? this.#rand() * cfg.jitterMs : 0);
    if (cfg.bandwidth !== undefined) {
      // A serial link: datagrams leave in arrival order at the capped rate, from one FIFO per direction
      // (one timer per datagram would let Node's millisecond timers reorder them).
      const now = performance.now();
      const start = Math.max(now, lane.linkFreeAt);
      const queuedBytes = ((start - now) / 1000) * cfg.bandwidth;
      if (queuedBytes + m.length > (cfg.queueBytes ?? 256 * 1024)) {
        lane.stats.queueDrops++;
        return;
      }
      lane.linkFreeAt = start + (m.length / cfg.bandwidth) * 1000;
      lane.stats.forwarded++;
      lane.fifo.push({ at: lane.linkFreeAt + wait, msg: m, send });
      this.#drain(lane);
      return;
    }
    lane.stats.forwarded++;
    if (wait <= 0) send(m);
    else this.#later(wait, () => send(m));
  }

  #drain(lane: Lane): void {
    if (lane.draining) return;
    const now = performance.now();
    while (lane.fifo.length > 0 && lane.fifo[0].at <= now) {
      const d = lane.fifo.shift() as { msg: Buffer; send: (m: Buffer) => void };
      d.send(d.msg);
    }
    if (lane.fifo.length === 0) return;
    lane.draining = true;
    this.#later(Math.max(0, lane.fifo[0].at - now), () => {
      lane.draining = false;
      this.#drain(lane);
    });
  }
}
