/**
 * Addresses: conformance §A1 (protocol_test.go) and reference §1 — text form, wire form, socket addresses,
 * special and broadcast addresses, parse errors by code.
 */
import { describe, expect, it } from 'vitest';
import {
  ADDR_BEACON,
  ADDR_NAMESERVER,
  ADDR_REGISTRY,
  ADDR_SIZE,
  ADDR_UNSPECIFIED,
  BROADCAST_NODE,
  addrEquals,
  addrToBytes,
  broadcastAddr,
  formatAddr,
  formatSocketAddr,
  isBroadcastAddr,
  isZeroAddr,
  makeAddr,
  parseAddr,
  parseSocketAddr,
  readAddr,
  writeAddr,
  type Addr,
} from '../../../src/coreapi/addr.js';
import { PilotError } from '../../../src/coreapi/errors.js';

/** Run `fn` and return the PilotError it throws (fails the test otherwise). */
function pilotErrorOf(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PilotError);
    return err as PilotError;
  }
  throw new Error('expected a PilotError, nothing was thrown');
}

const VECTORS: Array<[Addr, string]> = [
  [{ network: 0, node: 0 }, '0:0000.0000.0000'],
  [{ network: 0, node: 1 }, '0:0000.0000.0001'],
  [{ network: 0, node: 0x2a }, '0:0000.0000.002A'],
  [{ network: 1, node: 0xf2910004 }, '1:0001.F291.0004'],
  [{ network: 23, node: 1 }, '23:0017.0000.0001'],
  [{ network: 0, node: 0xffffffff }, '0:0000.FFFF.FFFF'],
  [{ network: 65535, node: 0xffffffff }, '65535:FFFF.FFFF.FFFF'],
  [{ network: 256, node: 0x00010000 }, '256:0100.0001.0000'],
];

describe('address text form', () => {
  it.each(VECTORS)('formats %j as %s', (addr, text) => {
    expect(formatAddr(addr)).toBe(text);
  });

  it.each(VECTORS)('parses %j back from %s', (addr, text) => {
    expect(parseAddr(text)).toEqual(addr);
    expect(formatAddr(parseAddr(text))).toBe(text);
  });

  it('round-trips {65535, 0xFFFFFFFF}', () => {
    const a = makeAddr(65535, 0xffffffff);
    expect(parseAddr(formatAddr(a))).toEqual(a);
  });

  it('parses hex case-insensitively and formats uppercase', () => {
    expect(parseAddr('1:0001.f291.0004')).toEqual({ network: 1, node: 0xf2910004 });
    expect(parseAddr('10:000a.aBcD.eF01')).toEqual({ network: 10, node: 0xabcdef01 });
    expect(formatAddr(parseAddr('10:000a.abcd.ef01'))).toBe('10:000A.ABCD.EF01');
  });

  it('accepts leading zeros in the decimal network, like strconv does', () => {
    expect(parseAddr('007:0007.0000.0001')).toEqual({ network: 7, node: 1 });
  });

  const BAD: Array<[string, string]> = [
    ['missing colon', '0000.0000.0001'],
    ['empty string', ''],
    ['empty network', ':0000.0000.0001'],
    ['non-decimal network', 'x:0000.0000.0001'],
    ['negative network', '-1:FFFF.0000.0001'],
    ['hex network prefix', '0x1:0001.0000.0001'],
    ['network > 65535', '65536:10000.0000.0000'],
    ['network > 65535 (groups fine)', '65536:0000.0000.0000'],
    ['huge network', '99999999999999999999:0000.0000.0000'],
    ['two groups', '0:0000.0001'],
    ['four groups', '0:0000.0000.0000.0001'],
    ['one group', '0:000000000001'],
    ['short group', '0:0000.000.0001'],
    ['long group', '0:0000.00001.0001'],
    ['empty group', '0:0000..0001'],
    ['non-hex group', '0:0000.00G0.0001'],
    ['non-hex network group', '0:ZZZZ.0000.0001'],
    ['sign inside group', '0:0000.+001.0001'],
    ['space inside group', '0:0000.0 01.0001'],
    ['network mismatch', '1:0002.0000.0001'],
    ['network mismatch (decimal vs hex)', '10:0010.0000.0001'],
    ['trailing dot', '0:0000.0000.0001.'],
    ['trailing port-like suffix', '0:0000.0000.0001:80'],
  ];

  it.each(BAD)('rejects %s (%j) with ERR_ADDR_INVALID', (_name, text) => {
    const err = pilotErrorOf(() => parseAddr(text));
    expect(err.code).toBe('ERR_ADDR_INVALID');
    expect(err.name).toBe('AddrParseError');
  });

  it('says "network mismatch" for a mismatched hex network', () => {
    expect(pilotErrorOf(() => parseAddr('1:0002.0000.0001')).message).toMatch(/network mismatch/);
  });

  it('rejects a non-string', () => {
    expect(pilotErrorOf(() => parseAddr(42 as unknown as string)).code).toBe('ERR_ADDR_INVALID');
  });
});

describe('address wire form', () => {
  it('is 6 bytes, big-endian, network first', () => {
    expect(ADDR_SIZE).toBe(6);
    expect([...addrToBytes({ network: 1, node: 0xf2910004 })]).toEqual([0x00, 0x01, 0xf2, 0x91, 0x00, 0x04]);
    expect([...addrToBytes({ network: 0xabcd, node: 0x01020304 })]).toEqual([0xab, 0xcd, 1, 2, 3, 4]);
    expect([...addrToBytes({ network: 65535, node: 0xffffffff })]).toEqual([255, 255, 255, 255, 255, 255]);
    expect([...addrToBytes(ADDR_UNSPECIFIED)]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it.each(VECTORS)('round-trips %j through 6 bytes', (addr) => {
    expect(readAddr(addrToBytes(addr))).toEqual(addr);
  });

  it('writes and reads at an offset without touching neighbouring bytes', () => {
    const buf = Buffer.alloc(16, 0xee);
    writeAddr(buf, 5, { network: 0x0102, node: 0x03040506 });
    expect([...buf]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee, 1, 2, 3, 4, 5, 6, 0xee, 0xee, 0xee, 0xee, 0xee]);
    expect(readAddr(buf, 5)).toEqual({ network: 0x0102, node: 0x03040506 });
    // The last possible offset works; one more is short.
    writeAddr(buf, 10, { network: 7, node: 8 });
    expect(readAddr(buf, 10)).toEqual({ network: 7, node: 8 });
  });

  it('reads the node as an unsigned 32-bit number', () => {
    const a = readAddr(Buffer.from([0, 0, 0x80, 0, 0, 0]));
    expect(a.node).toBe(0x80000000);
    expect(a.node).toBeGreaterThan(0);
  });

  it('reads from a plain Uint8Array too', () => {
    expect(readAddr(new Uint8Array([0, 23, 0, 0, 0, 1]))).toEqual({ network: 23, node: 1 });
  });

  it.each([
    ['empty', 0, 0],
    ['5 bytes', 5, 0],
    ['offset leaves 5', 10, 5],
    ['offset past the end', 6, 7],
    ['negative offset', 6, -1],
  ])('rejects a short read (%s) with ERR_ADDR_INVALID', (_name, size, offset) => {
    expect(pilotErrorOf(() => readAddr(Buffer.alloc(size), offset)).code).toBe('ERR_ADDR_INVALID');
  });
});

describe('special and broadcast addresses', () => {
  it('has the nominal special addresses', () => {
    expect(formatAddr(ADDR_UNSPECIFIED)).toBe('0:0000.0000.0000');
    expect(formatAddr(ADDR_REGISTRY)).toBe('0:0000.0000.0001');
    expect(formatAddr(ADDR_BEACON)).toBe('0:0000.0000.0002');
    expect(formatAddr(ADDR_NAMESERVER)).toBe('0:0000.0000.0003');
    expect(Object.isFrozen(ADDR_UNSPECIFIED)).toBe(true);
  });

  it('isZeroAddr is true only for 0:0000.0000.0000', () => {
    expect(isZeroAddr(ADDR_UNSPECIFIED)).toBe(true);
    expect(isZeroAddr(parseAddr('0:0000.0000.0000'))).toBe(true);
    expect(isZeroAddr({ network: 0, node: 1 })).toBe(false);
    expect(isZeroAddr({ network: 1, node: 0 })).toBe(false);
  });

  it('broadcast is node 0xFFFFFFFF on any network', () => {
    expect(BROADCAST_NODE).toBe(0xffffffff);
    expect(formatAddr(broadcastAddr())).toBe('0:0000.FFFF.FFFF');
    expect(formatAddr(broadcastAddr(5))).toBe('5:0005.FFFF.FFFF');
    expect(isBroadcastAddr(broadcastAddr(0))).toBe(true);
    expect(isBroadcastAddr({ network: 65535, node: 0xffffffff })).toBe(true);
    expect(isBroadcastAddr({ network: 0, node: 0xfffffffe })).toBe(false);
    expect(isBroadcastAddr({ network: 0xffff, node: 0 })).toBe(false);
    expect(isZeroAddr(broadcastAddr())).toBe(false);
  });

  it('addrEquals compares both parts', () => {
    expect(addrEquals({ network: 1, node: 2 }, { network: 1, node: 2 })).toBe(true);
    expect(addrEquals({ network: 1, node: 2 }, { network: 2, node: 2 })).toBe(false);
    expect(addrEquals({ network: 1, node: 2 }, { network: 1, node: 3 })).toBe(false);
  });

  it('makeAddr checks ranges with ERR_ADDR_INVALID', () => {
    expect(makeAddr(65535, 0xffffffff)).toEqual({ network: 65535, node: 0xffffffff });
    for (const [net, node] of [
      [65536, 0],
      [-1, 0],
      [0, 2 ** 32],
      [0, -1],
      [1.5, 0],
      [0, 0.5],
      [Number.NaN, 0],
    ]) {
      expect(pilotErrorOf(() => makeAddr(net, node)).code).toBe('ERR_ADDR_INVALID');
    }
    expect(pilotErrorOf(() => broadcastAddr(70000)).code).toBe('ERR_ADDR_INVALID');
  });
});

describe('socket addresses', () => {
  it('formats and parses <addr>:<port>', () => {
    const sa = { addr: { network: 1, node: 0xf2910004 }, port: 1001 };
    expect(formatSocketAddr(sa)).toBe('1:0001.F291.0004:1001');
    expect(parseSocketAddr('1:0001.F291.0004:1001')).toEqual(sa);
  });

  it.each([0, 1, 7, 80, 444, 1023, 1024, 49151, 49152, 65535])('round-trips port %d', (port) => {
    const sa = { addr: { network: 23, node: 1 }, port };
    expect(parseSocketAddr(formatSocketAddr(sa))).toEqual(sa);
  });

  it('splits at the last colon', () => {
    expect(parseSocketAddr('65535:FFFF.FFFF.FFFF:65535')).toEqual({
      addr: { network: 65535, node: 0xffffffff },
      port: 65535,
    });
  });

  it.each([
    ['no colon at all', '0000.0000.0001'],
    ['no port (address only)', '0:0000.0000.0001'],
    ['empty port', '0:0000.0000.0001:'],
    ['non-numeric port', '0:0000.0000.0001:http'],
    ['negative port', '0:0000.0000.0001:-1'],
    ['port > 65535', '0:0000.0000.0001:65536'],
    ['huge port', '0:0000.0000.0001:99999999999999999999'],
    ['fractional port', '0:0000.0000.0001:80.5'],
    ['bad address part', '0:0000.000.0001:80'],
    ['network mismatch in address part', '1:0002.0000.0001:80'],
    ['empty string', ''],
  ])('rejects %s (%j) with ERR_ADDR_INVALID', (_name, text) => {
    expect(pilotErrorOf(() => parseSocketAddr(text)).code).toBe('ERR_ADDR_INVALID');
  });

  it('rejects a non-string', () => {
    expect(pilotErrorOf(() => parseSocketAddr(null as unknown as string)).code).toBe('ERR_ADDR_INVALID');
  });
});
