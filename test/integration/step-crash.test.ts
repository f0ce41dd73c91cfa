// Crash-safety of the steps, short run (the same program as `npm run chaos:steps`), seeded so CI repeats
// it: the bootstrap and one flow of each kind, each with its worker killed inside a step, under a
// recorded workload, on its own cluster and addresses.
import { describe, expect, it } from '@jest/globals';
import { runChaosProgram } from './harness.js';

describe('a worker killed inside a step, short run', () => {
  it('every flow completes after the kill, the cluster heals, nothing acknowledged is lost', async () => {
    const r = await runChaosProgram('steps.js', ['--rounds', '6', '--seed', '2024', '--base-ip', '127.0.43.11']);
    expect(r.exitCode).toBe(0);
    expect(r.all).toContain('every check held');
    const m = /acknowledged inserts: (\d+), lost: (\d+)/.exec(r.all);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(100);
    expect(Number(m![2])).toBe(0);
    // the bootstrap and six flows: most kills land inside their step (a step shorter than its kill point is a miss)
    const kills = Number(/(\d+) kills inside a step/.exec(r.all)?.[1] ?? 0);
    expect(kills).toBeGreaterThanOrEqual(4);
    for (const flow of ['restart', 'rejoin', 'switchover', 'after-promotion', 'backup', 'restore']) expect(r.all).toMatch(new RegExp(`round: ${flow}\\b`));
  }, 1_500_000);
});
