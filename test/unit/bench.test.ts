import { describe, it, expect } from '@jest/globals';
import { mergeFigures, summarize } from '../../bench/lib.js';
import { pgbenchSummary } from '../../bench/commit-cost.js';

describe('benchmark results', () => {
  it("a run replaces the figures it measured and keeps the others with their date", () => {
    const f = (name: string, measuredAt: string) => ({ name, measuredAt });
    expect(mergeFigures([f('restore', 'a'), f('bootstrap', 'a')], [f('bootstrap', 'b'), f('hop', 'b')])).toEqual([f('restore', 'a'), f('bootstrap', 'b'), f('hop', 'b')]);
  });

  it('ratios: medians, and trial by trial for the max when both ran alike', () => {
    const s = summarize({ name: 'x', unit: 's', pgha: [2, 4, 3], baseline: [1, 2, 1], baselineName: 'raw' });
    expect(s).toMatchObject({ pghaMedian: 3, pghaMax: 4, baselineMedian: 1, ratioMedian: 3, ratioMax: 3 });
  });

  it("pgbench's summary: TPS and mean latency; no summary is an error quoting what it printed", () => {
    const out = [
      'transaction type: <builtin: TPC-B (sort of)>',
      'number of clients: 4',
      'latency average = 7.412 ms',
      'initial connection time = 12.345 ms',
      'tps = 539.663011 (without initial connection time)',
    ].join('\n');
    expect(pgbenchSummary(out)).toEqual({ tps: 539.663011, latencyMs: 7.412 });
    expect(() => pgbenchSummary('pgbench: error: connection refused')).toThrow(/no summary:\npgbench: error: connection refused/);
  });
});
