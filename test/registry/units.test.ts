/** Pure units: frame reassembly, token bucket, naming rules, self-signed certificates. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REQUEST_TYPES } from '../../src/registry/dispatcher.js';
import { REGISTRY_LOCAL_ERROR_CODES, REGISTRY_WIRE_ERROR_CODES } from '../../src/registry/errors.js';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { TokenBucketLimiter } from '../../src/registry/rate-limiter.js';
import { generateSelfSigned, normalizeFingerprint } from '../../src/registry/tls-cert.js';
import {
  hostnameProblem,
  networkNameProblem,
  normalizeTags,
  splitHostPort,
} from '../../src/registry/validation.js';

describe('FrameDecoder', () => {
  it('reassembles frames split at every possible byte boundary', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 20 }),
        (texts, cuts) => {
          const all = Buffer.concat(texts.map((t) => encodeFrame(t)));
          const d = new FrameDecoder(1024);
          const got: string[] = [];
          let off = 0;
          let i = 0;
          while (off < all.length) {
            const n = cuts[i++ % cuts.length];
            expect(d.push(all.subarray(off, off + n), (p) => got.push(p.toString('utf8')))).toBe(true);
            off += n;
          }
          expect(got).toEqual(texts);
          expect(d.buffered).toBe(0);
        },
      ),
    );
  });

  it('refuses a frame above the limit as soon as its header is complete', () => {
    const d = new FrameDecoder(10);
    const frames: string[] = [];
    expect(d.push(Buffer.from([0, 0]), (p) => frames.push(p.toString()))).toBe(true);
    expect(d.push(Buffer.from([0, 11, 1, 2]), (p) => frames.push(p.toString()))).toBe(false);
    expect(d.oversizedLength).toBe(11);
    expect(d.push(encodeFrame('x'), (p) => frames.push(p.toString()))).toBe(true);
    expect(frames).toEqual([]);
  });

  it('stop() inside a callback stops delivery', () => {
    const d = new FrameDecoder(100);
    const got: string[] = [];
    d.push(Buffer.concat([encodeFrame('a'), encodeFrame('b')]), (p) => {
      got.push(p.toString());
      d.stop();
    });
    expect(got).toEqual(['a']);
  });
});

describe('TokenBucketLimiter (reference ratelimit_test)', () => {
  it('allows up to the limit, then denies; refills over time, partially, up to the cap; per key', () => {
    let now = 0;
    const l = new TokenBucketLimiter({ perMinute: 10 }, () => now);
    for (let i = 0; i < 10; i++) expect(l.allow('1.1.1.1')).toBe(true);
    expect(l.allow('1.1.1.1')).toBe(false);
    expect(l.allow('2.2.2.2')).toBe(true);
    now += 6000; // one token
    expect(l.allow('1.1.1.1')).toBe(true);
    expect(l.allow('1.1.1.1')).toBe(false);
    now += 3000; // half a token
    expect(l.allow('1.1.1.1')).toBe(false);
    now += 3000;
    expect(l.allow('1.1.1.1')).toBe(true);
    now += 3_600_000;
    expect(l.available('1.1.1.1')).toBe(10);
  });

  it('cleanup drops refilled buckets and keeps recent ones', () => {
    let now = 0;
    const l = new TokenBucketLimiter({ perMinute: 60, burst: 5 }, () => now);
    l.allow('a');
    now += 10_000;
    l.allow('b');
    expect(l.size).toBe(2);
    expect(l.cleanup()).toBe(1);
    expect(l.size).toBe(1);
    expect(() => new TokenBucketLimiter({ perMinute: 0 })).toThrow(RangeError);
  });

  it('handles a high rate', () => {
    const l = new TokenBucketLimiter({ perMinute: 1_000_000 }, () => 0);
    let ok = 0;
    for (let i = 0; i < 2_000_000; i++) if (l.allow('x')) ok++;
    expect(ok).toBe(1_000_000);
  });
});

describe('naming rules', () => {
  it('hostnames', () => {
    for (const ok of ['a', 'a1', 'web-1', 'x'.repeat(63), '0']) expect(hostnameProblem(ok)).toBeNull();
    for (const bad of [
      '',
      '-a',
      'a-',
      'A',
      'a_b',
      'a.b',
      'x'.repeat(64),
      'localhost',
      'backbone',
      'broadcast',
    ]) {
      expect(hostnameProblem(bad)).toEqual(expect.any(String));
    }
  });

  it('tags', () => {
    expect(normalizeTags(['#a', 'b-c', 'a'])).toEqual(['a', 'b-c']);
    expect(() => normalizeTags(Array.from({ length: 11 }, (_, i) => `t${i}`))).toThrow(
      expect.objectContaining({ code: 'ERR_REGISTRY_TAGS_INVALID' }),
    );
    for (const bad of ['', '#', 'x'.repeat(33), 'A', '-a']) {
      expect(() => normalizeTags([bad])).toThrow(
        expect.objectContaining({ code: 'ERR_REGISTRY_TAGS_INVALID' }),
      );
    }
  });

  it('network names and host:port', () => {
    expect(networkNameProblem('team-1')).toBeNull();
    expect(networkNameProblem('backbone')).toMatch(/reserved/);
    expect(networkNameProblem('Team')).toMatch(/invalid/);
    expect(splitHostPort(':9000')).toEqual({ host: '', port: 9000 });
    expect(splitHostPort('[::1]:1')).toEqual({ host: '::1', port: 1 });
    expect(splitHostPort('::1:1')).toBeNull();
    expect(splitHostPort('h:99999')).toBeNull();
  });
});

describe('self-signed certificate', () => {
  it('is a valid P-256 certificate for localhost/127.0.0.1/::1 with a matching fingerprint', () => {
    const m = generateSelfSigned();
    const x = new X509Certificate(m.cert);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.subjectAltName).toContain('DNS:localhost');
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(normalizeFingerprint(x.fingerprint256)).toBe(m.fingerprint);
    expect(new Date(x.validTo).getTime() - Date.now()).toBeGreaterThan(360 * 86_400_000);
  });
});

describe('documentation', () => {
  it('docs/registry.md lists every error code', () => {
    const doc = readFileSync(new URL('../../docs/registry.md', import.meta.url), 'utf8');
    for (const code of [...REGISTRY_WIRE_ERROR_CODES, ...REGISTRY_LOCAL_ERROR_CODES]) {
      expect(doc, code).toContain(`| \`${code}\` |`);
    }
  });

  it('docs/registry.md lists every message type', () => {
    const doc = readFileSync(new URL('../../docs/registry.md', import.meta.url), 'utf8');
    for (const type of [...REQUEST_TYPES, 'subscribe_replication'])
      expect(doc, type).toContain(`| \`${type}\` |`);
  });
});
