// Shared by the benchmarks: timing, median/max, results file and markdown table.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Figure {
  name: string;
  unit: string;
  pgha: number[];
  baseline: number[];
  baselineName: string;
  target?: string;
}

export function summarize(f: Figure) {
  const pm = median(f.pgha);
  const bm = median(f.baseline);
  return {
    ...f,
    pghaMedian: pm,
    pghaMax: Math.max(...f.pgha),
    baselineMedian: bm,
    baselineMax: Math.max(...f.baseline),
    ratioMedian: pm / bm,
    // trial by trial when both ran alike (alternating); else against the baseline's median
    ratioMax: f.pgha.length === f.baseline.length ? Math.max(...f.pgha.map((p, i) => p / f.baseline[i])) : Math.max(...f.pgha) / bm,
  };
}

/** This run's figures, and those of earlier runs that this one did not measure (BENCH_ONLY), kept with their date (pure). */
export function mergeFigures<T extends { name: string; measuredAt: string }>(earlier: T[], now: T[]): T[] {
  const names = new Set(now.map((f) => f.name));
  return [...earlier.filter((f) => !names.has(f.name)), ...now];
}

export function report(figures: Figure[]): string {
  const measuredAt = new Date().toISOString();
  const rows = figures.map((f) => ({ ...summarize(f), measuredAt }));
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
  const out = join(repoRoot, 'bench', 'results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  let earlier: (ReturnType<typeof summarize> & { measuredAt: string })[] = [];
  try {
    const old = JSON.parse(readFileSync(out, 'utf8'));
    earlier = old.figures.map((f: any) => ({ ...f, measuredAt: f.measuredAt ?? old.date }));
  } catch {
    /* first run */
  }
  writeFileSync(out, JSON.stringify({ date: measuredAt, machine, figures: mergeFigures(earlier, rows) }, null, 2));
  const f = (x: number) => x.toFixed(2);
  return [
    `machine: ${machine}`,
    '',
    '| figure | trials | pgha median | pgha max | baseline | baseline median | baseline max | ratio median | ratio max | target |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} (${r.unit}) | ${r.pgha.length} | ${f(r.pghaMedian)} | ${f(r.pghaMax)} | ${r.baselineName} | ${f(r.baselineMedian)} | ${f(r.baselineMax)} | ${f(r.ratioMedian)}× | ${f(r.ratioMax)}× | ${r.target ?? ''} |`),
    '',
    `written to ${out}`,
  ].join('\n');
}
