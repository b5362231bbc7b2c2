/**
 * Audit: datagrams at and around the size limit on real UDP sockets, to unbound ports, bounded per-port
 * queues, and use after close (stable codes).
 */
import { describe, expect, it } from 'vitest';
import type { Datagram } from '../../src/coreapi/streams.js';
import { MAX_DATAGRAM_PAYLOAD } from '../../src/streams/stack.js';
import { waitFor } from '../helpers/wait.js';
import { pair, randomData } from './helpers.js';

/** Send `data` until `sock` gets a datagram (unreliable by contract; bounded). */
async function sendUntil(
  send: () => Promise<void>,
  recv: (o: { signal: AbortSignal }) => Promise<Datagram>,
): Promise<Datagram> {
  for (let i = 0; i < 20; i++) {
    await send();
    try {
      return await recv({ signal: AbortSignal.timeout(250) });
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_ABORTED') throw err;
    }
  }
  throw new Error('no datagram arrived');
}

describe('datagrams at the size limit', () => {
  it('carries exactly MAX_DATAGRAM_PAYLOAD bytes and refuses one more with ERR_DATAGRAM_TOO_LARGE', async () => {
    const { a, b } = await pair();
    const sock = await b.streams.bindDatagram(900);
    for (const size of [MAX_DATAGRAM_PAYLOAD, MAX_DATAGRAM_PAYLOAD - 1, 1]) {
      const data = randomData(size, size);
      const got = await sendUntil(
        () => a.streams.sendDatagram(b.addr, 900, data),
        (o) => sock.receive(o),
      );
      expect(got.data.length).toBe(size);
      expect(got.data.equals(data)).toBe(true);
      expect(got.dstPort).toBe(900);
    }
    await expect(
      a.streams.sendDatagram(b.addr, 900, Buffer.alloc(MAX_DATAGRAM_PAYLOAD + 1)),
    ).rejects.toMatchObject({
      code: 'ERR_DATAGRAM_TOO_LARGE',
    });
    sock.close();
  });
});

describe('datagram sockets: bounds and close', () => {
  it('a flooded port keeps only the newest datagrams, counts the rest, and unbound ports keep nothing', async () => {
    const { a, b } = await pair({ datagramQueue: 4 });
    const sock = await b.streams.bindDatagram(901);
    const before = b.streams.counters.datagramsRecv;
    for (let i = 0; i < 20; i++) await a.streams.sendDatagram(b.addr, 901, Buffer.from([i]));
    // To a port nobody bound: received, never queued anywhere, no error.
    await a.streams.sendDatagram(b.addr, 902, Buffer.from('nobody'));
    await waitFor(() => b.streams.counters.datagramsRecv - before === 21, 3000, 'datagrams received');
    expect(sock.dropped).toBe(16);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push((await sock.receive()).data[0]);
    expect(got).toEqual([16, 17, 18, 19]);
    await expect(sock.receive({ signal: AbortSignal.timeout(20) })).rejects.toMatchObject({
      code: 'ERR_ABORTED',
    });
    sock.close();
  });

  it('close rejects pending and later receives with ERR_CLOSED, ends iteration, and frees the port', async () => {
    const { a, b } = await pair();
    const sock = await b.streams.bindDatagram(903);
    const pending = sock.receive();
    const iterated = (async () => {
      let n = 0;
      for await (const _d of sock) n++;
      return n;
    })();
    sock.close();
    sock.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(sock.receive()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(await iterated).toBe(0);
    // The port can be bound again, and the new socket gets what is sent now.
    const again = await b.streams.bindDatagram(903);
    const data = Buffer.from('after');
    const d = await sendUntil(
      () => a.streams.sendDatagram(b.addr, 903, data),
      (o) => again.receive(o),
    );
    expect(d.data.equals(data)).toBe(true);
    again.close();
    // After the stack closes: typed errors, not crashes.
    await a.streams.close();
    await expect(a.streams.sendDatagram(b.addr, 903, data)).rejects.toMatchObject({
      code: 'ERR_STACK_CLOSED',
    });
    await expect(a.streams.bindDatagram(904)).rejects.toMatchObject({ code: 'ERR_STACK_CLOSED' });
  });
});
