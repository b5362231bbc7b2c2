/**
 * Property tests for address text (docs/wire-format.md §1): non-canonical but valid spellings (leading zeros in
 * the decimal network, lower-case hex) parse to the address and format canonically; format∘parse is idempotent;
 * near-misses of valid strings are accepted or rejected exactly as an independent model of the parsing rules
 * says, always with ERR_ADDR_INVALID; socket addresses likewise; bare decimal node IDs (the CLI's network-0 form)
 * resolve without a daemon and refuse out-of-range values.
 * (Basic parse(format(a)) = a and random-text robustness live in test/transport/codec/codec-property.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandContext } from '../../cmd/command-context.js';
import type { Output } from '../../cmd/output.js';
import {
  formatAddr,
  formatSocketAddr,
  makeAddr,
  parseAddr,
  parseSocketAddr,
  type Addr,
} from '../../src/coreapi/addr.js';
import { PilotError } from '../../src/coreapi/errors.js';

const u16 = fc.oneof(fc.constantFrom(0, 1, 0xff, 0x100, 0xfffe, 0xffff), fc.integer({ min: 0, max: 0xffff }));
const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0xffff, 0x10000, 0xfffffffe, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const arbAddr: fc.Arbitrary<Addr> = fc.record({ network: u16, node: u32 });

/** The parsing rules of §1, written independently: returns the address or null. */
function modelParse(text: string): Addr | null {
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const net = text.slice(0, colon);
  if (!/^[0-9]+$/.test(net)) return null;
  const network = Number(net);
  if (network > 0xffff) return null;
  const groups = text.slice(colon + 1).split('.');
  if (groups.length !== 3 || !groups.every((g) => /^[0-9A-Fa-f]{4}$/.test(g))) return null;
  if (parseInt(groups[0], 16) !== network) return null;
  return { network, node: parseInt(groups[1] + groups[2], 16) };
}

function parseOrCode(text: string): Addr | string {
  try {
    return parseAddr(text);
  } catch (err) {
    if (!(err instanceof PilotError)) throw err;
    return err.code;
  }
}

/** A valid but possibly non-canonical spelling of `a`: leading zeros, per-digit random case. */
const spelling: fc.Arbitrary<{ a: Addr; text: string }> = fc
  .tuple(arbAddr, fc.integer({ min: 0, max: 6 }), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }))
  .map(([a, zeros, lower]) => {
    const hex = formatAddr(a).split(':')[1].replace(/\./g, '');
    const cased = [...hex].map((c, i) => (lower[i] ? c.toLowerCase() : c)).join('');
    const text = `${'0'.repeat(zeros)}${a.network}:${cased.slice(0, 4)}.${cased.slice(4, 8)}.${cased.slice(8)}`;
    return { a, text };
  });

/** Near-misses: one edit (delete, insert, replace, duplicate) of a valid spelling. */
const NOISE = [...'0123456789aAfFgG:. -+x\n\t٣０'];
const nearMiss: fc.Arbitrary<string> = fc
  .tuple(
    spelling,
    fc.nat(),
    fc.constantFrom('delete', 'insert', 'replace', 'swap'),
    fc.constantFrom(...NOISE),
  )
  .map(([{ text }, pos, op, ch]) => {
    const i = pos % (text.length + 1);
    const j = Math.min(i, text.length - 1);
    switch (op) {
      case 'delete':
        return text.slice(0, j) + text.slice(j + 1);
      case 'insert':
        return text.slice(0, i) + ch + text.slice(i);
      case 'replace':
        return text.slice(0, j) + ch + text.slice(j + 1);
      default:
        return j + 1 < text.length ? text.slice(0, j) + text[j + 1] + text[j] + text.slice(j + 2) : text;
    }
  });

describe('address text: canonical formatting', () => {
  it('any valid spelling parses to the address and formats canonically; format∘parse is idempotent', () => {
    fc.assert(
      fc.property(spelling, ({ a, text }) => {
        const parsed = parseAddr(text);
        expect(parsed).toEqual(a);
        const canon = formatAddr(parsed);
        expect(canon).toBe(formatAddr(a));
        expect(formatAddr(parseAddr(canon))).toBe(canon);
      }),
      { numRuns: 1000 },
    );
  });

  it('near-misses are accepted or rejected exactly as the model says, rejection always ERR_ADDR_INVALID', () => {
    fc.assert(
      fc.property(nearMiss, (text) => {
        const want = modelParse(text);
        const got = parseOrCode(text);
        if (want === null) expect(got).toBe('ERR_ADDR_INVALID');
        else expect(got).toEqual(want);
      }),
      { numRuns: 3000 },
    );
  });

  it('a network beyond 65535 or a hex network group that disagrees is rejected', () => {
    fc.assert(
      fc.property(arbAddr, fc.integer({ min: 0x10000, max: 0xffffffff }), u16, (a, big, other) => {
        const [, rest] = formatAddr(a).split(':');
        expect(parseOrCode(`${big}:${rest}`)).toBe('ERR_ADDR_INVALID');
        if (other !== a.network) expect(parseOrCode(`${other}:${rest}`)).toBe('ERR_ADDR_INVALID');
      }),
      { numRuns: 300 },
    );
  });

  it('socket addresses: canonical round trip, and near-misses of the port are rejected', () => {
    fc.assert(
      fc.property(
        spelling,
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(
          '',
          '-1',
          '+1',
          ' 1',
          '1 ',
          '0x10',
          '65536',
          '99999999999999999999',
          '1.0',
          '1e3',
          '٣',
        ),
        ({ a, text }, port, zeros, badPort) => {
          const sa = parseSocketAddr(`${text}:${'0'.repeat(zeros)}${port}`);
          expect(sa).toEqual({ addr: a, port });
          expect(formatSocketAddr(sa)).toBe(`${formatAddr(a)}:${port}`);
          expect(parseSocketAddr(formatSocketAddr(sa))).toEqual(sa);
          let code: string | null = null;
          try {
            parseSocketAddr(`${text}:${badPort}`);
          } catch (err) {
            code = (err as PilotError).code;
          }
          expect(code).toBe('ERR_ADDR_INVALID');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('makeAddr accepts exactly the in-range integers', () => {
    fc.assert(
      fc.property(
        fc.oneof(u16, fc.constantFrom(-1, 0x10000, 1.5, NaN, Infinity)),
        fc.oneof(u32, fc.constantFrom(-1, 2 ** 32, 0.5, NaN, -Infinity)),
        (network, node) => {
          const valid =
            Number.isInteger(network) &&
            network >= 0 &&
            network <= 0xffff &&
            Number.isInteger(node) &&
            node >= 0 &&
            node <= 0xffffffff;
          let code: string | null = null;
          try {
            expect(makeAddr(network, node)).toEqual({ network, node });
          } catch (err) {
            code = (err as PilotError).code;
          }
          expect(code).toBe(valid ? null : 'ERR_ADDR_INVALID');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('bare node IDs (CLI address arguments)', () => {
  const ctx = new CommandContext({
    out: { io: { env: {} } } as unknown as Output,
    signal: new AbortController().signal,
  });

  it('a decimal node ID (leading zeros, surrounding blanks allowed) is that node on network 0', async () => {
    await fc.assert(
      fc.asyncProperty(
        u32,
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom('', ' ', '\t'),
        async (n, z, pad) => {
          const a = await ctx.resolveAddr(`${pad}${'0'.repeat(z)}${n}${pad}`);
          expect(a).toEqual({ network: 0, node: n });
          expect(formatAddr(a)).toBe(formatAddr(makeAddr(0, n)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a decimal node ID beyond 2^32 - 1 is refused with a typed error, never wrapped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.bigInt({ min: 2n ** 32n, max: 2n ** 64n }).map(String),
          fc.constantFrom('4294967296', '9'.repeat(400)),
        ),
        async (text) => {
          await expect(ctx.resolveAddr(text)).rejects.toBeInstanceOf(PilotError);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('an address argument with a colon is parsed as N:NNNN.HHHH.LLLL (model agrees)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          spelling.map((s) => s.text),
          nearMiss.filter((t) => t.includes(':')),
        ),
        async (t) => {
          const text = t.trim();
          if (/^\d+$/.test(text) || !text.includes(':')) return;
          const want = modelParse(text);
          let got: Addr | string;
          try {
            got = await ctx.resolveAddr(t);
          } catch (err) {
            got = (err as PilotError).code;
          }
          if (want === null) expect(got).toBe('ERR_ADDR_INVALID');
          else expect(got).toEqual(want);
        },
      ),
      { numRuns: 500 },
    );
  });
});
