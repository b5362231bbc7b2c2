/** Shared helpers for registry tests: servers on 127.0.0.1:0, identities, clients and raw connections. */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import { ed25519FromSeed, ed25519Sign, type Ed25519KeyPair } from '../../src/transport/keys.js';
import {
  RegistryClient,
  startRegistry,
  type RegistryClientOptions,
  type RegistryOptions,
  type RegistryServer,
  type RegistrySigner,
} from '../../src/registry/index.js';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';

/** A signer over a fresh Ed25519 key (node ID learned by the client at register). */
export interface TestIdentity extends RegistrySigner {
  readonly keys: Ed25519KeyPair;
  readonly publicKey: Buffer;
  readonly publicKeyB64: string;
  /** Sign a challenge and return base64 (for raw requests). */
  sig(challenge: string): string;
}

export function makeIdentity(): TestIdentity {
  const keys = ed25519FromSeed(randomBytes(32));
  return {
    keys,
    publicKey: keys.publicKey,
    publicKeyB64: keys.publicKey.toString('base64'),
    sign: (m: Uint8Array) => ed25519Sign(keys, m),
    sig: (c: string) => ed25519Sign(keys, Buffer.from(c)).toString('base64'),
  };
}

/** A registry on 127.0.0.1:0, closed after the test. Rate limiting is off unless given. */
export async function startTestRegistry(opts: RegistryOptions = {}): Promise<RegistryServer> {
  const server = await startRegistry({ host: '127.0.0.1', port: 0, registrationRateLimit: false, ...opts });
  onTestFinished(() => server.close());
  return server;
}

/** A client of `server`, closed after the test. */
export function clientFor(
  server: RegistryServer,
  signer?: RegistrySigner,
  opts: Partial<RegistryClientOptions> = {},
): RegistryClient {
  const addr = server.address;
  if (!addr) throw new Error('server not listening');
  const c = new RegistryClient({ host: addr.host, port: addr.port, signer, timeoutMs: 5000, ...opts });
  onTestFinished(() => c.close());
  return c;
}

/** Register a fresh identity; returns it with its client and node ID. */
export async function registerNode(
  server: RegistryServer,
  opts: { hostname?: string; owner?: string; listenAddr?: string; public?: boolean } = {},
): Promise<{ id: TestIdentity; client: RegistryClient; nodeId: number }> {
  const id = makeIdentity();
  const client = clientFor(server, id);
  const a = await client.register({
    listenAddr: opts.listenAddr ?? '0.0.0.0:4000',
    hostname: opts.hostname,
    owner: opts.owner,
  });
  if (opts.public) await client.setVisibility(true);
  return { id, client, nodeId: a.node_id };
}

/** A raw framed connection for malformed-input tests. */
export class RawConnection {
  readonly socket: Socket;
  readonly #frames: unknown[] = [];
  readonly #waiters: Array<(v: unknown) => void> = [];
  readonly closed: Promise<void>;
  readonly #decoder = new FrameDecoder(64 * 1024 * 1024);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk, (payload) => {
        const v = JSON.parse(payload.toString('utf8')) as unknown;
        const w = this.#waiters.shift();
        if (w) w(v);
        else this.#frames.push(v);
      });
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static open(server: RegistryServer): Promise<RawConnection> {
    const addr = server.address;
    if (!addr) throw new Error('server not listening');
    return new Promise((resolve, reject) => {
      const s = connect({ host: addr.host, port: addr.port });
      s.once('connect', () => {
        const rc = new RawConnection(s);
        onTestFinished(() => {
          s.destroy();
        });
        resolve(rc);
      });
      s.once('error', reject);
    });
  }

  /** Send an object as one frame, or raw bytes as they are. */
  send(msg: unknown): void {
    this.socket.write(Buffer.isBuffer(msg) ? msg : encodeFrame(JSON.stringify(msg)));
  }

  /** The next decoded answer (rejects after `ms`). */
  next<T = Record<string, unknown>>(ms = 3000): Promise<T> {
    const f = this.#frames.shift();
    if (f !== undefined) return Promise.resolve(f as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), ms);
      this.#waiters.push((v) => {
        clearTimeout(timer);
        resolve(v as T);
      });
    });
  }

  /** Send and wait for the answer. */
  async ask<T = Record<string, unknown>>(msg: unknown): Promise<T> {
    this.send(msg);
    return this.next<T>();
  }
}

/** Poll `pred` until true or the deadline passes. */
export async function waitFor(pred: () => boolean | Promise<boolean>, ms = 5000, stepMs = 10): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

type ChunkFilter = (chunk: Buffer, pair: { down: Socket; up: Socket }) => boolean;

/**
 * A TCP proxy to 127.0.0.1:`port`, closed when the test ends. Each chunk of the client's requests goes to
 * `filter.request` and each chunk of the registry's answers to `filter.answer`, which forward it (true) or not
 * (false; they may also destroy the pair of sockets). Without a filter a direction is forwarded as is.
 */
export async function filterProxy(
  port: number,
  filter: { request?: ChunkFilter; answer?: ChunkFilter },
): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    const up = connect({ host: '127.0.0.1', port });
    const pair = { down, up };
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    down.on('data', (chunk: Buffer) => {
      if (!filter.request || filter.request(chunk, pair)) up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => {
      if (!filter.answer || filter.answer(chunk, pair)) down.write(chunk);
    });
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as { port: number }).port;
}

/** A TCP proxy to `port` that drops the client side the first time an answer contains `marker`. */
export async function dropOnceProxy(
  port: number,
  marker: string,
): Promise<{ port: number; dropped: () => boolean }> {
  let dropped = false;
  const proxyPort = await filterProxy(port, {
    answer: (chunk, { down, up }) => {
      if (dropped || !chunk.includes(marker)) return true;
      dropped = true;
      down.destroy();
      up.destroy();
      return false;
    },
  });
  return { port: proxyPort, dropped: () => dropped };
}

/** A TCP proxy to `port` that withholds (never forwards) answers containing `marker`, keeping the connection. */
export async function withholdingProxy(
  port: number,
  marker: string,
): Promise<{ port: number; withheld: Promise<void> }> {
  let onWithheld: () => void = () => {};
  const withheld = new Promise<void>((r) => (onWithheld = r));
  const proxyPort = await filterProxy(port, {
    answer: (chunk) => {
      if (!chunk.includes(marker)) return true;
      onWithheld();
      return false;
    },
  });
  return { port: proxyPort, withheld };
}
