/** A {@link TunnelSocket} over a NAT simulator client: the tunnel's datagrams go through the simulated NAT. */
import type { TunnelRemoteInfo, TunnelSocket } from '../../src/transport/tunnel.js';
import type { NatClient } from '../helpers/nat-simulator.js';

/** Sees every datagram the tunnel sends (`out`) and receives (`in`). */
export type SocketTap = (dir: 'in' | 'out', msg: Buffer, peer: { address: string; port: number }) => void;

export class NatTunnelSocket implements TunnelSocket {
  readonly #client: NatClient;
  readonly #tap: SocketTap | null;

  constructor(client: NatClient, tap: SocketTap | null = null) {
    this.#client = client;
    this.#tap = tap;
  }

  send(msg: Buffer | Buffer[], port: number, address: string): void {
    const buf = Array.isArray(msg) ? Buffer.concat(msg) : msg;
    this.#tap?.('out', buf, { address, port });
    this.#client.send(buf, port, address);
  }

  on(event: 'message' | 'error', listener: (...args: never[]) => void): this {
    if (event === 'message') {
      const l = listener as (msg: Buffer, rinfo: TunnelRemoteInfo) => void;
      const tap = this.#tap;
      this.#client.on(
        'message',
        tap === null
          ? l
          : (msg, rinfo) => {
              tap('in', msg, rinfo);
              l(msg, rinfo);
            },
      );
    }
    return this;
  }

  address(): { address: string; port: number } {
    const a = this.#client.address();
    return { address: a.host, port: a.port };
  }

  close(callback?: () => void): void {
    void this.#client.close().then(() => callback?.());
  }
}
