import { describe, it, expect } from '@jest/globals';
import { mergeFigures, summarize } from '../../bench/lib.js';

describe('benchmark results', () => {
  it("a run replaces the figures it measured and keeps the others with their date", () => {
    const f = (name: string, measuredAt: string) => ({ name, measuredAt });
    expect(mergeFigures([f('restore', 'a'), f('bootstrap', 'a')], [f('bootstrap', 'b'), f('hop', 'b')])).toEqual([f('restore', 'a'), f('bootstrap', 'b'), f('hop', 'b')]);
  });

  it('ratios: medians, and trial by trial for the max when both ran alike', () => {
    const s = summarize({ name: 'x', unit: 's', pgha: [2, 4, 3], baseline: [1, 2, 1], baselineName: 'raw' });
    expect(s).toMatchObject({ pghaMedian: 3, pghaMax: 4, baselineMedian: 1, ratioMedian: 3, ratioMax: 3 });
  });
});
