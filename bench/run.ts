// `npm run bench` (all, several trials) and `npm run bench -- --quick` (one trial each, under 5 minutes:
// one cluster, the bootstrap's, serves failover, restore, switchover and footprint; a 10-scale restore;
// the anchor, 60 s of repmgr's default timeouts, runs beside the footprint windows, which count each
// process's own CPU time and memory and so are not moved by it).
// BENCH_TRIALS, BENCH_FAILOVER_TRIALS, BENCH_ANCHOR_TRIALS, BENCH_SWITCHOVER_TRIALS change the counts;
// BENCH_RESTORE_TRIALS, BENCH_RESTORE_SCALE (pgbench scale, 70 ≈ 1 GB), BENCH_CONTROL_TRIALS,
// BENCH_FOOTPRINT_WINDOWS (of 20 s), BENCH_COMMIT_TRIALS, BENCH_COMMIT_SECONDS (pgbench, quorum vs off);
// BENCH_ONLY=bootstrap,failover,switchover,restore,control,footprint,commit picks parts.
import { benchBootstrap } from './bootstrap.js';
import { anchorTrials, benchFailover, benchSwitchover, failoverResult, failoverTrials, type FailoverTrial } from './failover.js';
import { benchRestore } from './restore.js';
import { benchControlPlane } from './control-plane.js';
import { benchFootprint } from './footprint.js';
import { benchCommitCost } from './commit-cost.js';
import { benchCluster, type BenchCluster } from './cluster.js';
import { report, type Figure } from './lib.js';

const quick = process.argv.includes('--quick');
const n = (name: string, full: number) => (quick ? 1 : Number(process.env[name] ?? full));
const only = (process.env.BENCH_ONLY ?? 'bootstrap,failover,switchover,restore,control,footprint,commit').split(',');
const started = Date.now();
const log = (s: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${s}`);
const figures: Figure[] = [];
const notes: string[] = [];
const failoverNote = (f: ReturnType<typeof failoverResult>) =>
  notes.push(`failover: acknowledged inserts lost per pgha trial: ${f.lost.join(', ')}; two-primary moments sampled every 200 ms (all trials): ${f.twoPrimary}`);
const scale = Number(process.env.BENCH_RESTORE_SCALE ?? (quick ? 10 : 70));

if (!quick) {
  if (only.includes('bootstrap')) figures.push((await benchBootstrap(n('BENCH_TRIALS', 5), log)).figure);
  if (only.includes('failover')) {
    const f = await benchFailover(n('BENCH_FAILOVER_TRIALS', 10), n('BENCH_ANCHOR_TRIALS', 3), log);
    figures.push(...f.figures);
    failoverNote(f);
  }
  if (only.includes('switchover')) figures.push(await benchSwitchover(n('BENCH_SWITCHOVER_TRIALS', 5), log));
  if (only.includes('restore')) figures.push(...(await benchRestore(n('BENCH_RESTORE_TRIALS', 3), scale, log)));
  if (only.includes('control')) figures.push(...(await benchControlPlane(n('BENCH_CONTROL_TRIALS', 5), log)));
  if (only.includes('footprint')) figures.push(...(await benchFootprint(Number(process.env.BENCH_FOOTPRINT_WINDOWS ?? 3), 20, 30, log)));
  if (only.includes('commit')) figures.push(...(await benchCommitCost(n('BENCH_COMMIT_TRIALS', 3), Number(process.env.BENCH_COMMIT_SECONDS ?? 30), log)));
} else {
  let shared: BenchCluster | undefined;
  const cluster = async () => (shared ??= await benchCluster('quick', '127.0.7.11', { redis: 6391, dashboard: 8091 }));
  try {
    if (only.includes('bootstrap')) {
      const b = await benchBootstrap(1, log, true);
      figures.push(b.figure);
      shared = b.cluster;
    }
    let pghaFailover: FailoverTrial[] = [];
    if (only.includes('failover')) pghaFailover = await failoverTrials(await cluster(), 1, 'failover', log, true);
    // restore before switchover: the switchover's by-hand floor promotes behind pgha's back and
    // leaves barman streaming from the old primary
    if (only.includes('restore')) figures.push(...(await benchRestore(1, scale, log, await cluster())));
    if (only.includes('switchover')) figures.push(await benchSwitchover(1, log, await cluster()));
    if (only.includes('control')) figures.push(...(await benchControlPlane(1, log)));
    const [anchor, footprint] = await Promise.all([
      only.includes('failover') ? anchorTrials(1, log) : Promise.resolve([]),
      // the shared cluster goes down as soon as the footprint is measured, while the anchor runs on
      (only.includes('footprint') ? benchFootprint(1, 20, 10, log, await cluster()) : Promise.resolve([])).finally(async () => {
        await shared?.destroy();
        shared = undefined;
      }),
    ]);
    if (only.includes('failover')) {
      const f = failoverResult(pghaFailover, anchor);
      figures.splice(only.includes('bootstrap') ? 1 : 0, 0, ...f.figures);
      failoverNote(f);
    }
    figures.push(...footprint);
  } finally {
    await shared?.destroy();
  }
}
console.log(report(figures));
for (const note of notes) console.log(note);
log(`done`);
