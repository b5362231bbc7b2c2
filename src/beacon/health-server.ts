/**
 * Optional HTTP health endpoint: `GET /healthz` (or HEAD) → 200 `ok` when the beacon is healthy, 503
 * `unhealthy` otherwise. Any other path → 404, any other method → 405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BeaconBindError } from './errors.js';

export class HealthServer {
  readonly #server: Server;
  readonly #isHealthy: () => boolean;
  /** Where it listens, kept so that address() answers after close. */
  #address: { host: string; port: number } = { host: '', port: 0 };
  #closed: Promise<void> | null = null;

  private constructor(isHealthy: () => boolean) {
    this.#isHealthy = isHealthy;
    this.#server = createServer(this.#onRequest);
  }

  /** Listen on `host:port` (port 0 = ephemeral). Rejects {@link BeaconBindError}. */
  static async listen(host: string, port: number, isHealthy: () => boolean): Promise<HealthServer> {
    const h = new HealthServer(isHealthy);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new BeaconBindError(`health endpoint: cannot listen on ${host}:${port}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      h.#server.once('error', onError);
      h.#server.listen(port, host, () => {
        h.#server.off('error', onError);
        resolve();
      });
    });
    // Errors after listening (e.g. EMFILE on accept) must not crash the process.
    h.#server.on('error', () => {});
    const a = h.#server.address() as AddressInfo;
    h.#address = { host: a.address, port: a.port };
    return h;
  }

  /** Where it listens (after close: where it listened). */
  address(): { host: string; port: number } {
    return { ...this.#address };
  }

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/healthz') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed');
      return;
    }
    let healthy: boolean;
    try {
      healthy = this.#isHealthy();
    } catch {
      healthy = false;
    }
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(healthy ? 'ok' : 'unhealthy');
  };

  /** Stop listening and drop open connections. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closed;
  }
}
