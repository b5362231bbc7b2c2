/**
 * The Streams compliance suite: every implementation of the coreapi `Streams` contract (in-memory, the real
 * stream layer over UDP tunnels, the IPC driver) runs it unchanged.
 *
 *   runStreamsSuite('memory', async () => { ...; return { a, b, addrA, addrB, close } });
 *
 * The factory gives two endpoints that can reach each other (a dials b); it is called once per test and
 * `close()` is called after it. The suite never sleeps for timing: it waits on events and promises, and
 * bounded retries only for datagrams (which are unreliable by contract).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Duplex, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Addr } from '../../src/coreapi/addr.js';
import type { Datagram, Listener, Stream, Streams } from '../../src/coreapi/streams.js';

export interface StreamsPair {
  /** The dialing side. */
  readonly a: Streams;
  /** The listening side. */
  readonly b: Streams;
  readonly addrA: Addr;
  readonly addrB: Addr;
  /** Release everything the factory created. */
  close(): Promise<void>;
}

export type StreamsPairFactory = () => Promise<StreamsPair>;

export interface StreamsSuiteOptions {
  /** Bytes of the backpressure transfer (default 4 MiB). */
  bigTransferBytes?: number;
  /** A payload size the implementation must refuse with ERR_DATAGRAM_TOO_LARGE (default 70,000). */
  tooLargeDatagram?: number;
  /** Base virtual port used by the suite (default 3000). */
  basePort?: number;
}

/**
 * Read a stream to its end with 'data'/'end' events. (Not `for await`: Node's async iterator destroys a
 * Duplex when the readable side ends, which would reset a stream whose writable side is still open.)
 */
export function readAll(s: Stream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

/** Resolves with the error a stream closes with (null for a clean close). */
export function closeError(s: Stream): Promise<(Error & { code?: string }) | null> {
  return new Promise((resolve) => {
    let err: (Error & { code?: string }) | null = null;
    s.on('error', (e: Error) => {
      err = e;
    });
    if (s.destroyed) {
      resolve(s.errored as Error | null);
      return;
    }
    s.once('close', () => resolve(err));
  });
}

/** Asserts a promise rejects with a PilotError of `code`. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function runStreamsSuite(
  name: string,
  factory: StreamsPairFactory,
  options: StreamsSuiteOptions = {},
): void {
  const bigBytes = options.bigTransferBytes ?? 4 * 1024 * 1024;
  const tooLarge = options.tooLargeDatagram ?? 70_000;
  const P = options.basePort ?? 3000;

  describe(`Streams compliance: ${name}`, () => {
    let pair: StreamsPair;
    const open: Array<Stream | Listener | { close(): unknown }> = [];
    const track = <T extends Stream | Listener | { close(): unknown }>(r: T): T => {
      open.push(r);
      return r;
    };

    beforeEach(async () => {
      pair = await factory();
    });

    afterEach(async () => {
      for (const r of open.splice(0)) {
        if (r instanceof Duplex) {
          r.on('error', () => {});
          r.destroy();
        } else await (r as { close(): unknown }).close();
      }
      await pair.close();
    });

    /** b listens on `port`, a dials it; returns both ends. */
    async function connect(port: number): Promise<{ client: Stream; server: Stream; listener: Listener }> {
      const listener = track(await pair.b.listen(port));
      const [client, server] = await Promise.all([pair.a.dial(pair.addrB, port), listener.accept()]);
      track(client);
      track(server);
      return { client, server, listener };
    }

    it('dials, accepts and echoes, with correct addresses and ports', async () => {
      const { client, server } = await connect(P + 1);
      expect(client.remoteAddr).toEqual(pair.addrB);
      expect(client.remotePort).toBe(P + 1);
      expect(server.localPort).toBe(P + 1);
      expect(server.remoteAddr).toEqual(pair.addrA);
      expect(server.remotePort).toBe(client.localPort);
      expect(client.localAddr).toEqual(pair.addrA);
      expect(typeof client.id).toBe('number');
      expect(client.setNoDelay(true)).toBe(client);
      server.pipe(server);
      client.write('hello pilot');
      const [chunk] = (await once(client, 'data')) as [Buffer];
      let got = chunk.toString();
      while (got.length < 11) got += ((await once(client, 'data')) as [Buffer])[0].toString();
      expect(got).toBe('hello pilot');
      const st = client.stats();
      expect(typeof st.bytesSent).toBe('number');
      expect(typeof st.state).toBe('string');
    });

    it('half-close: end() delivers end-of-stream and the other direction keeps working', async () => {
      const { client, server } = await connect(P + 2);
      const request = Buffer.from('request-'.repeat(1000));
      client.end(request);
      const got = await readAll(server);
      expect(got.equals(request)).toBe(true);
      // The server can still answer after the client's FIN.
      const response = Buffer.from('response-'.repeat(500));
      server.end(response);
      const back = await readAll(client);
      expect(back.equals(response)).toBe(true);
    });

    it('destroy() resets: the peer errors with ERR_CONNECTION_RESET', async () => {
      const { client, server } = await connect(P + 3);
      const closed = closeError(client);
      client.resume();
      server.destroy();
      const err = await closed;
      expect(err).not.toBeNull();
      expect(err?.code).toBe('ERR_CONNECTION_RESET');
    });

    it('refuses a dial to a port with no listener (ERR_CONNECTION_REFUSED)', async () => {
      await expectCode(pair.a.dial(pair.addrB, P + 4), 'ERR_CONNECTION_REFUSED');
    });

    it('rejects invalid ports with ERR_INVALID_ARG', async () => {
      await expectCode(pair.a.dial(pair.addrB, 70_000), 'ERR_INVALID_ARG');
      await expectCode(pair.b.listen(-1), 'ERR_INVALID_ARG');
    });

    it('refuses a second listen or datagram bind on the same port (ERR_PORT_IN_USE)', async () => {
      const l = track(await pair.b.listen(P + 5));
      await expectCode(pair.b.listen(P + 5), 'ERR_PORT_IN_USE');
      await l.close();
      const again = track(await pair.b.listen(P + 5));
      expect(again.port).toBe(P + 5);
      const d = track(await pair.b.bindDatagram(P + 5));
      await expectCode(pair.b.bindDatagram(P + 5), 'ERR_PORT_IN_USE');
      d.close();
    });

    it('listener close rejects accept with ERR_CLOSED and ends async iteration', async () => {
      const listener = track(await pair.b.listen(P + 6));
      const iter = (async () => {
        for await (const s of listener) s.destroy();
        return 'ended';
      })();
      const pending = listener.accept();
      await listener.close();
      await expectCode(pending, 'ERR_CLOSED');
      await expectCode(listener.accept(), 'ERR_CLOSED');
      await expect(iter).resolves.toBe('ended');
      await expectCode(pair.a.dial(pair.addrB, P + 6), 'ERR_CONNECTION_REFUSED');
      // close() is idempotent.
      await listener.close();
    });

    it('listener close resets streams that were never accepted', async () => {
      const listener = track(await pair.b.listen(P + 12));
      const queued = track(await pair.a.dial(pair.addrB, P + 12));
      const queuedClosed = closeError(queued);
      queued.resume();
      await listener.close();
      expect((await queuedClosed)?.code).toBe('ERR_CONNECTION_RESET');
    });

    it('honours AbortSignal in dial, accept and receive (ERR_ABORTED)', async () => {
      await expectCode(pair.a.dial(pair.addrB, P + 7, { signal: AbortSignal.abort() }), 'ERR_ABORTED');
      const listener = track(await pair.b.listen(P + 7));
      const ac = new AbortController();
      const p = listener.accept({ signal: ac.signal });
      ac.abort();
      await expectCode(p, 'ERR_ABORTED');
      // The listener still works after an aborted accept.
      const [client, server] = await Promise.all([pair.a.dial(pair.addrB, P + 7), listener.accept()]);
      track(client);
      track(server);
      expect(server.localPort).toBe(P + 7);
      const sock = track(await pair.b.bindDatagram(P + 7));
      const ac2 = new AbortController();
      const r = sock.receive({ signal: ac2.signal });
      ac2.abort();
      await expectCode(r, 'ERR_ABORTED');
    });

    it(`applies backpressure and delivers ${bigBytes} bytes intact`, async () => {
      const { client, server } = await connect(P + 8);
      const data = randomBytes(bigBytes);
      const chunk = 64 * 1024;
      let sawBackpressure = false;
      let signalBackpressure!: () => void;
      const backpressured = new Promise<void>((r) => (signalBackpressure = r));
      const writer = (async () => {
        for (let off = 0; off < data.length; off += chunk) {
          if (!client.write(data.subarray(off, off + chunk))) {
            if (!sawBackpressure) {
              sawBackpressure = true;
              signalBackpressure();
            }
            await once(client, 'drain');
          }
        }
        client.end();
        signalBackpressure();
      })();
      // The server does not read until the writer is held back (or has written everything).
      await backpressured;
      const [received] = await Promise.all([readAll(server), writer]);
      expect(sawBackpressure).toBe(true);
      expect(received.length).toBe(data.length);
      expect(sha256(received)).toBe(sha256(data));
    });

    it('works with stream.pipeline and async iteration', async () => {
      const { client, server } = await connect(P + 9);
      const upper = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          cb(null, Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'));
        },
      });
      const served = pipeline(server, upper, server);
      const text = 'abcdefghij'.repeat(10_000);
      client.end(text);
      const chunks: Buffer[] = [];
      for await (const c of client) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString('latin1')).toBe(text.toUpperCase());
      await served;
    });

    it('delivers datagrams to a bound port and refuses oversized ones', async () => {
      const sock = track(await pair.b.bindDatagram(P + 10));
      const payload = Buffer.from('datagram-ping');
      const ac = new AbortController();
      const received = sock.receive({ signal: ac.signal });
      // Datagrams are unreliable: resend (bounded) until one arrives.
      let got: Datagram | undefined;
      received.then((d) => (got = d)).catch(() => {});
      for (let i = 0; i < 50 && !got; i++) {
        await pair.a.sendDatagram(pair.addrB, P + 10, payload);
        await Promise.race([received, new Promise((r) => setTimeout(r, 100))]);
      }
      ac.abort();
      const d = await received;
      expect(d.data.equals(payload)).toBe(true);
      expect(d.src).toEqual(pair.addrA);
      expect(d.dstPort).toBe(P + 10);
      await expectCode(
        pair.a.sendDatagram(pair.addrB, P + 10, Buffer.alloc(tooLarge)),
        'ERR_DATAGRAM_TOO_LARGE',
      );
      const iter = (async () => {
        for await (const _ of sock) void _;
        return 'ended';
      })();
      sock.close();
      await expect(iter).resolves.toBe('ended');
      await expectCode(sock.receive(), 'ERR_CLOSED');
    });

    it('carries 20 concurrent streams independently', async () => {
      const listener = track(await pair.b.listen(P + 11));
      const serving = (async () => {
        const done: Promise<void>[] = [];
        for (let i = 0; i < 20; i++) {
          const s = track(await listener.accept());
          done.push(pipeline(s, s));
        }
        await Promise.all(done);
      })();
      const results = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const s = track(await pair.a.dial(pair.addrB, P + 11));
          const payload = Buffer.alloc(32 * 1024 + i, i);
          s.end(payload);
          const back = await readAll(s);
          return { id: s.id, port: s.localPort, ok: back.equals(payload) };
        }),
      );
      await serving;
      expect(results.every((r) => r.ok)).toBe(true);
      expect(new Set(results.map((r) => r.id)).size).toBe(20);
      expect(new Set(results.map((r) => r.port)).size).toBe(20);
    });
  });
}
