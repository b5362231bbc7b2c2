import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (name.endsWith(ext)) out.push(p);
  }
  return out;
}

describe('error codes', () => {
  it('every ERR_ code used in src/ is documented in docs/', () => {
    const codes = new Set<string>();
    for (const f of files('src', '.ts')) {
      for (const m of readFileSync(f, 'utf8').matchAll(/'(ERR_[A-Z0-9_]+)'/g)) codes.add(m[1]);
    }
    const docs = files('docs', '.md')
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const missing = [...codes].filter((c) => !docs.includes(c)).sort();
    expect(codes.size).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });
});
