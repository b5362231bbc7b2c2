/**
 * The layer rules (docs/architecture.md), checked over the real import graph of src/ and cmd/ (type imports
 * included): one-way layer dependencies, plugins isolated from each other, and no import cycles.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

/**
 * Relative imports of a file, resolved to repository-relative .ts paths (with `staticOnly`, without the
 * `import()` calls, which load only when they run).
 */
function importsOf(file: string, staticOnly = false): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    if (staticOnly && m[1] === undefined) continue;
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) continue;
    let target = resolve(dirname(file), spec);
    if (target.endsWith('.js')) target = target.slice(0, -3) + '.ts';
    else if (!target.endsWith('.ts'))
      target = existsSync(target + '.ts') ? target + '.ts' : join(target, 'index.ts');
    out.push(relative(ROOT, target));
  }
  return out;
}

const files = [...walk(join(ROOT, 'src')), ...walk(join(ROOT, 'cmd'))].map((f) => relative(ROOT, f));
const graph = new Map(files.map((f) => [f, importsOf(join(ROOT, f))]));

/** What each layer may import (folders under src/). */
const ALLOWED: Record<string, string[]> = {
  coreapi: ['coreapi'],
  transport: ['coreapi', 'transport'],
  streams: ['coreapi', 'transport', 'streams'],
  registry: ['coreapi', 'transport', 'registry'],
  beacon: ['coreapi', 'transport', 'beacon'],
  runtime: ['coreapi', 'runtime'],
  ipc: ['coreapi', 'ipc'],
};

function layerOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'cmd') return 'cmd';
  if (parts[1] === 'plugins') return parts.length > 3 ? `plugins/${parts[2]}` : 'plugins-index';
  if (parts.length === 2) return 'root';
  return parts[1];
}

function violation(from: string, to: string): string | null {
  const a = layerOf(from);
  const b = layerOf(to);
  if (!to.startsWith('src/') && !to.startsWith('cmd/')) return `${from} imports outside src/cmd: ${to}`;
  if (a === 'cmd') {
    return ['transport', 'streams', 'runtime', 'ipc'].includes(b)
      ? `cmd may not import ${b} internals (${to})`
      : null;
  }
  if (b === 'cmd') return `src may not import cmd (${to})`;
  if (a.startsWith('plugins/'))
    return b === 'coreapi' || b === a ? null : `${a} may import only coreapi and itself (${to})`;
  if (a === 'node')
    return b.startsWith('plugins/') ? `node may use plugins only through src/plugins/index.ts (${to})` : null;
  const allowed = ALLOWED[a];
  if (allowed && !allowed.includes(b)) return `${a} may import only ${allowed.join(', ')} (${to})`;
  return null;
}

describe('architecture', () => {
  it('reads a real import graph', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get('src/streams/stack.ts')).toContain('src/transport/packet.ts');
  });

  it('every import resolves to a file', () => {
    const missing = [...graph].flatMap(([f, deps]) =>
      deps.filter((d) => !existsSync(join(ROOT, d))).map((d) => `${f} → ${d}`),
    );
    expect(missing).toEqual([]);
  });

  it('layers depend one way (coreapi ← transport ← streams ← node ← cmd; plugins on coreapi only)', () => {
    const bad = [...graph].flatMap(([f, deps]) => deps.map((d) => violation(f, d)).filter((v) => v !== null));
    expect(bad).toEqual([]);
  });

  it('detects a layer violation when one is present', () => {
    expect(violation('src/coreapi/addr.ts', 'src/transport/tunnel.ts')).not.toBeNull();
    expect(violation('src/plugins/echo/echo-service.ts', 'src/plugins/webhook/index.ts')).not.toBeNull();
    expect(violation('src/node/node.ts', 'src/plugins/echo/index.ts')).not.toBeNull();
    expect(violation('src/node/node.ts', 'src/plugins/index.ts')).toBeNull();
  });

  it('the CLI starts light: its static imports reach no tunnel, streams, node, registry or plugin code', () => {
    const seen = new Set<string>();
    const todo = ['cmd/pilot.ts'];
    while (todo.length > 0) {
      const f = todo.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      // Type-only imports are erased at build time and load nothing.
      const text = readFileSync(join(ROOT, f), 'utf8');
      const typeOnly = new Set(
        [...text.matchAll(/import\s+type\s[^'"]*?from\s*['"]([^'"]+)['"]/g)].map((m) =>
          relative(ROOT, resolve(dirname(join(ROOT, f)), m[1].replace(/\.js$/, '.ts'))),
        ),
      );
      for (const d of importsOf(join(ROOT, f), true)) if (!typeOnly.has(d)) todo.push(d);
    }
    const heavy = [...seen].filter(
      (f) =>
        /^src\/(transport|streams|registry|beacon|runtime|plugins)\//.test(f) ||
        // config.ts and gc-tuning.ts import no other src code: the CLI needs them before it runs a command.
        (f.startsWith('src/node/') && f !== 'src/node/config.ts' && f !== 'src/node/gc-tuning.ts') ||
        f === 'src/index.ts',
    );
    expect(seen.has('src/client.ts')).toBe(true);
    expect(
      heavy.filter(
        (f) => !f.startsWith('src/plugins/dataexchange/') && !f.startsWith('src/plugins/eventstream/'),
      ),
    ).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 1 | 2>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 1);
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (!graph.has(d)) continue;
        if (state.get(d) === 1) cycles.push([...stack.slice(stack.indexOf(d)), d].join(' → '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 2);
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
