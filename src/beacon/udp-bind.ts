/** Binding the beacon's UDP socket: IPv4, IPv6, dual-stack (`''` / `::`), or a host name. */
import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from '../coreapi/logger.js';
import { BeaconBindError } from './errors.js';
import { formatHostPort } from './ip.js';

export interface BoundSocket {
  sock: Socket;
  family: SocketType;
  /** An IPv6 socket on `::` that also carries IPv4 (as `::ffff:a.b.c.d`). */
  dualStack: boolean;
}

async function bindAs(type: SocketType, host: string, port: number): Promise<Socket> {
  const sock = createSocket({ type, ipv6Only: false });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      try {
        sock.close();
      } catch {
        // already closed
      }
      reject(
        new BeaconBindError(`beacon: cannot bind udp ${formatHostPort(host, port)}: ${err.message}`, {
          cause: err,
        }),
      );
    };
    sock.once('error', onError);
    sock.bind(port, host, () => {
      sock.off('error', onError);
      resolve();
    });
  });
  return sock;
}

/**
 * Bind `host:port`. `''` tries dual-stack `::` and falls back to `0.0.0.0`. Socket buffers are requested at
 * `bufferSize` (the kernel may cap them; failure only logs). Rejects {@link BeaconBindError}.
 */
export async function bindBeaconSocket(
  host: string,
  port: number,
  bufferSize: number,
  log: Logger,
): Promise<BoundSocket> {
  let bound: BoundSocket;
  if (host === '') {
    try {
      bound = { sock: await bindAs('udp6', '::', port), family: 'udp6', dualStack: true };
    } catch {
      bound = { sock: await bindAs('udp4', '0.0.0.0', port), family: 'udp4', dualStack: false };
    }
  } else if (isIPv6(host)) {
    bound = { sock: await bindAs('udp6', host, port), family: 'udp6', dualStack: host === '::' };
  } else if (isIPv4(host)) {
    bound = { sock: await bindAs('udp4', host, port), family: 'udp4', dualStack: false };
  } else {
    let resolved: { address: string; family: number };
    try {
      resolved = await lookup(host);
    } catch (err) {
      throw new BeaconBindError(`cannot resolve beacon host "${host}"`, { cause: err });
    }
    const family: SocketType = resolved.family === 6 ? 'udp6' : 'udp4';
    bound = { sock: await bindAs(family, resolved.address, port), family, dualStack: false };
  }
  try {
    bound.sock.setRecvBufferSize(bufferSize);
    bound.sock.setSendBufferSize(bufferSize);
  } catch (err) {
    log.warn({ err, size: bufferSize }, 'beacon: could not set socket buffer sizes');
  }
  return bound;
}
