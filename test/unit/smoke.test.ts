import { describe, expect, it } from 'vitest';
import { formatAddr } from '../../src/index.js';

describe('smoke', () => {
  it('formats an address', () => {
    expect(formatAddr({ network: 1, node: 0xf2910004 })).toBe('1:0001.F291.0004');
  });
});
