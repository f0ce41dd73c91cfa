// The nemesis suite's short run (the same program as `npm run chaos`), seeded so CI repeats it: faults
// one after another against a recorded workload, on its own cluster and addresses.
import { describe, expect, it } from '@jest/globals';
import { runChaosProgram } from './harness.js';

describe('nemesis suite, short run', () => {
  it('every nemesis: nothing acknowledged lost, the bank kept, nodes identical, healed after each', async () => {
    const r = await runChaosProgram('run.js', ['--seconds', '150', '--seed', '1201', '--base-ip', '127.0.41.11']);
    expect(r.exitCode).toBe(0);
    const m = /acknowledged inserts: (\d+), lost: (\d+)/.exec(r.all);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(200);
    expect(Number(m![2])).toBe(0);
    const events = Number(/(\d+) nemesis events/.exec(r.all)?.[1] ?? 0);
    expect(events).toBeGreaterThanOrEqual(3);
    expect(r.all).toContain('every check held');
  }, 1_500_000);
});
