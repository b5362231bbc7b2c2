/**
 * Benchmark harness types. Each suite in bench/suites/ exports `suite: BenchSuite`; `bench/run.ts` runs them
 * all (or those named on the command line) and prints a table plus one final JSON line.
 * Every figure stands beside a baseline measured in the same run, as a ratio.
 */

export interface BenchFigure {
  /** Stable key, e.g. `tunnel.encrypted_pps`. */
  name: string;
  value: number;
  unit: string;
  /** What the baseline is, e.g. `raw node:dgram`. */
  baselineName?: string;
  baseline?: number;
  /** value / baseline (or baseline / value for lower-is-better figures, see `lowerIsBetter`). */
  ratio?: number;
  lowerIsBetter?: boolean;
  /** Human-readable target, e.g. `>= 0.35x raw`. */
  target?: string;
  /** Whether the target was met. */
  met?: boolean;
  note?: string;
}

export interface BenchSuite {
  name: string;
  /** Issue number the suite belongs to. */
  issue: number;
  run(): Promise<BenchFigure[]>;
}

/** A figure with ratio and target check filled in. `min`: the ratio must be >= min (or <= max). */
export function figure(
  f: Omit<BenchFigure, 'ratio' | 'met'> & { minRatio?: number; maxRatio?: number },
): BenchFigure {
  const { minRatio, maxRatio, ...rest } = f;
  const out: BenchFigure = { ...rest };
  if (f.baseline !== undefined && f.baseline !== 0) out.ratio = round(f.value / f.baseline, 3);
  if (out.ratio !== undefined) {
    if (minRatio !== undefined) out.met = out.ratio >= minRatio;
    if (maxRatio !== undefined) out.met = out.ratio <= maxRatio;
  }
  out.value = round(out.value, 3);
  if (out.baseline !== undefined) out.baseline = round(out.baseline, 3);
  return out;
}

export function round(v: number, digits: number): number {
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}

/** Percentile of an unsorted sample array (p in 0..100). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}
