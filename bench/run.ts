/**
 * `npm run bench`: runs every suite in bench/suites (or those whose name is given as an argument),
 * prints a readable table and then one JSON object on the last line.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchFigure, BenchSuite } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

async function loadSuites(): Promise<BenchSuite[]> {
  const dir = join(here, 'suites');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .sort();
  const suites: BenchSuite[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { suite?: BenchSuite };
    if (mod.suite) suites.push(mod.suite);
  }
  return suites.sort((a, b) => a.issue - b.issue || a.name.localeCompare(b.name));
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(v);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const suites = (await loadSuites()).filter((s) => only.length === 0 || only.includes(s.name));
  const results: Record<string, { issue: number; figures: BenchFigure[]; error?: string }> = {};
  for (const s of suites) {
    process.stderr.write(`running ${s.name} (issue ${s.issue})...\n`);
    try {
      results[s.name] = { issue: s.issue, figures: await s.run() };
    } catch (err) {
      results[s.name] = { issue: s.issue, figures: [], error: (err as Error).stack ?? String(err) };
    }
  }
  const rows: string[][] = [
    ['figure', 'value', 'unit', 'baseline', 'baseline value', 'ratio', 'target', 'met'],
  ];
  for (const [name, r] of Object.entries(results)) {
    if (r.error) rows.push([`${name}: ERROR ${r.error.split('\n')[0]}`, '', '', '', '', '', '', '']);
    for (const f of r.figures) {
      rows.push([
        f.name,
        fmt(f.value),
        f.unit,
        f.baselineName ?? '-',
        fmt(f.baseline),
        f.ratio === undefined ? '-' : `${f.ratio}x`,
        f.target ?? '-',
        f.met === undefined ? '-' : f.met ? 'yes' : 'NO',
      ]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => pad(c, widths[i])).join('  '));
  console.log(JSON.stringify({ node: process.version, date: new Date().toISOString(), suites: results }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
