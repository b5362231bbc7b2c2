/**
 * Opening a connection to a registry: plain TCP, or TLS with either normal certificate verification or a pinned
 * SHA-256 certificate fingerprint (the reference daemon's `-registry-fingerprint`). With a pin, the chain is not
 * checked (the registry's certificate is self-signed); only the exact certificate is accepted, and nothing is
 * sent before the pin matched.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { AbortError } from '../coreapi/errors.js';
import { RegistryConnectionError, RegistryTlsError } from './errors.js';
import { fingerprintOfDer, normalizeFingerprint } from './tls-cert.js';

export interface RegistryTlsOptions {
  /** Hex SHA-256 of the server's DER certificate (colons and case ignored). */
  fingerprint?: string;
  /** CA certificate(s) for normal verification when no fingerprint is pinned. */
  ca?: string | Buffer;
  /** SNI / verification host name (default: the host when it is a name). */
  servername?: string;
}

export interface DialOptions {
  host: string;
  port: number;
  /** TLS settings; `true` = TLS with normal verification. */
  tls?: RegistryTlsOptions | boolean;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Connect and (for TLS) complete the handshake and the pin check. */
export function dialRegistry(opts: DialOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new AbortError());
      return;
    }
    const where = `${opts.host}:${opts.port}`;
    const tlsOpts = opts.tls === true ? {} : opts.tls || null;
    let sock: Socket | TLSSocket;
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.removeListener('error', onError);
      if (err) {
        sock.destroy();
        reject(err);
      } else {
        resolve(sock);
      }
    };
    const onError = (err: Error): void => {
      finish(
        err instanceof RegistryTlsError
          ? err
          : new RegistryConnectionError(
              'ERR_REGISTRY_CONNECTION',
              `cannot connect to registry ${where}: ${err.message}`,
              {
                cause: err,
              },
            ),
      );
    };
    const onAbort = (): void => finish(new AbortError());
    const timer = setTimeout(
      () =>
        finish(
          new RegistryConnectionError('ERR_REGISTRY_CONNECTION', `connect to registry ${where} timed out`),
        ),
      opts.timeoutMs,
    );
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (tlsOpts) {
      const pin = tlsOpts.fingerprint ? normalizeFingerprint(tlsOpts.fingerprint) : null;
      const servername = tlsOpts.servername ?? (isIP(opts.host) ? undefined : opts.host);
      const t = tlsConnect({
        host: opts.host,
        port: opts.port,
        servername,
        ca: tlsOpts.ca,
        rejectUnauthorized: pin === null,
      });
      sock = t;
      t.once('secureConnect', () => {
        if (pin !== null) {
          const cert = t.getPeerCertificate(true);
          const got = cert?.raw ? fingerprintOfDer(cert.raw) : '';
          if (got !== pin) {
            finish(
              new RegistryTlsError(
                `registry ${where} certificate fingerprint ${got || '(none)'} does not match the pin`,
              ),
            );
            return;
          }
        }
        t.setNoDelay(true);
        finish(null);
      });
    } else {
      sock = netConnect({ host: opts.host, port: opts.port });
      sock.once('connect', () => {
        sock.setNoDelay(true);
        finish(null);
      });
    }
    sock.on('error', onError);
  });
}
