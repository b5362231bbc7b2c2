/** Small helpers for the beacon tests: real UDP sockets with teardown, an inbox, and waitFor. */
import { createSocket, type Socket, type SocketType } from 'node:dgram';
import type { EventEmitter } from 'node:events';
import { onTestFinished } from 'vitest';
import { createBeacon, type Beacon, type BeaconOptions } from '../../src/beacon/index.js';
import { createNat, type NatOptions, type NatSimulator } from '../helpers/nat-simulator.js';

export interface Received {
  msg: Buffer;
  rinfo: { address: string; port: number };
}

/** Collects every 'message' event of a socket-like emitter; `next` takes the first match, waiting if needed. */
export class Inbox {
  readonly messages: Received[] = [];
  #waiters: Array<{ pred: (r: Received) => boolean; resolve: (r: Received) => void }> = [];

  constructor(source: EventEmitter) {
    source.on('message', (msg: Buffer, rinfo: { address: string; port: number }) => {
      const r: Received = { msg: Buffer.from(msg), rinfo: { address: rinfo.address, port: rinfo.port } };
      const w = this.#waiters.find((x) => x.pred(r));
      if (w !== undefined) {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        w.resolve(r);
        return;
      }
      this.messages.push(r);
    });
  }

  /** The first queued or future message matching `pred` (removed from the queue). */
  next(pred: (r: Received) => boolean = () => true, timeoutMs = 3000): Promise<Received> {
    const i = this.messages.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0]);
    return new Promise<Received>((resolve, reject) => {
      const w = {
        pred,
        resolve: (r: Received) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        reject(new Error(`no matching message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  /** Shorthand: next message whose first byte is `type`. */
  nextType(type: number, timeoutMs?: number): Promise<Received> {
    return this.next((r) => r.msg[0] === type, timeoutMs);
  }

  count(pred: (r: Received) => boolean): number {
    return this.messages.filter(pred).length;
  }
}

/** A bound UDP socket closed when the test ends. */
export async function udp(host = '127.0.0.1', type: SocketType = 'udp4'): Promise<Socket> {
  const s = createSocket(type);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => {
      s.off('error', reject);
      resolve();
    });
  });
  s.on('error', () => {});
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        try {
          s.close(() => resolve());
        } catch {
          resolve();
        }
      }),
  );
  return s;
}

/** A socket plus its inbox. */
export async function udpWithInbox(
  host = '127.0.0.1',
  type: SocketType = 'udp4',
): Promise<{ sock: Socket; inbox: Inbox; port: number }> {
  const sock = await udp(host, type);
  return { sock, inbox: new Inbox(sock), port: sock.address().port };
}

/** A beacon on 127.0.0.1:0 (by default) closed when the test ends. */
export async function beacon(opts: BeaconOptions = {}): Promise<Beacon> {
  const b = await createBeacon({ host: '127.0.0.1', port: 0, ...opts });
  onTestFinished(() => b.close());
  return b;
}

/** A NAT simulator closed when the test ends. */
export async function nat(opts: NatOptions): Promise<NatSimulator> {
  const n = await createNat(opts);
  onTestFinished(() => n.close());
  return n;
}

/** Poll `pred` every few ms until it is true; rejects after `timeoutMs`. */
export async function waitFor(pred: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
