// The nemesis suite's short run (the same program as `npm run chaos`), seeded so CI repeats it: faults
// one after another against a recorded workload, on its own cluster and addresses.
import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cli, repoRoot } from './harness.js';

let stateDir: string | undefined;

afterAll(async () => {
  // the runner takes its cluster down itself; this is for a run that was cut short
  if (stateDir && existsSync(join(stateDir, 'pgha.yaml'))) {
    await cli(['local', 'down', '--dir', stateDir], { timeoutMs: 120_000 });
    rmSync(stateDir, { recursive: true, force: true });
  }
}, 180_000);

describe('nemesis suite, short run', () => {
  it('every nemesis: nothing acknowledged lost, the bank kept, nodes identical, healed after each', async () => {
    const run = execa(process.execPath, [join(repoRoot, 'dist', 'bench', 'chaos', 'run.js'), '--seconds', '150', '--seed', '1201', '--base-ip', '127.0.41.11'], {
      reject: false,
      all: true,
      timeout: 1_200_000,
      cwd: repoRoot,
    });
    run.all!.on('data', (d: Buffer) => {
      const m = /state in (\/tmp\/pgha-chaos-\S+)/.exec(d.toString());
      if (m) stateDir = m[1];
    });
    const r = await run;
    console.log(r.all);
    expect(r.exitCode).toBe(0);
    const m = /acknowledged inserts: (\d+), lost: (\d+)/.exec(r.all ?? '');
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(200);
    expect(Number(m![2])).toBe(0);
    const events = Number(/(\d+) nemesis events/.exec(r.all ?? '')?.[1] ?? 0);
    expect(events).toBeGreaterThanOrEqual(3);
    expect(r.all).toContain('every check held');
  }, 1_500_000);
});
