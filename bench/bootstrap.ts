// Bootstrap: `pgha local up` of 3 nodes to all flows completed (first backup included), against
// bench/plain-bootstrap.sh running the same PostgreSQL/repmgr/barman commands back to back.
// Trials alternate between the two so the machine's noise hits both alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot, type Figure } from './lib.js';
import { openBenchCluster, type BenchCluster } from './cluster.js';

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** With `keepLast`, the last trial's cluster stays up and is returned for the next benchmarks (--quick). */
export async function benchBootstrap(trials: number, log: (s: string) => void, keepLast = false): Promise<{ figure: Figure; cluster?: BenchCluster }> {
  let kept: BenchCluster | undefined;
  const pgha: number[] = [];
  const plain: number[] = [];
  const cli = join(repoRoot, 'bin', 'pgha.js');
  const script = join(repoRoot, 'bench', 'plain-bootstrap.sh');
  for (let i = 0; i < trials; i++) {
    const plainDir = mkdtempSync('/tmp/pgha-bench-plain-');
    try {
      plain.push(await timed(() => execa('bash', [script, 'up', plainDir, '127.0.6'], { stdio: 'inherit' })));
    } finally {
      await execa('bash', [script, 'down', plainDir], { reject: false });
      rmSync(plainDir, { recursive: true, force: true });
    }
    const dir = mkdtempSync('/tmp/pgha-bench-up-');
    try {
      const args = ['local', 'up', '--dir', dir, '--base-ip', '127.0.7.11', '--redis-port', '6391', '--dashboard-port', '8091'];
      pgha.push(await timed(() => execa(process.execPath, [cli, ...args], { cwd: repoRoot })));
      if (keepLast && i === trials - 1) kept = openBenchCluster(dir);
    } finally {
      if (!kept) {
        await execa(process.execPath, [cli, 'local', 'down', '--dir', dir], { reject: false });
        rmSync(dir, { recursive: true, force: true });
      }
    }
    log(`bootstrap trial ${i + 1}/${trials}: pgha ${pgha[i].toFixed(2)} s, plain commands ${plain[i].toFixed(2)} s`);
  }
  return { figure: { name: 'bootstrap, 3 nodes + first backup', unit: 's', pgha, baseline: plain, baselineName: 'plain-bootstrap.sh', target: '≤ 1.25×' }, cluster: kept };
}
