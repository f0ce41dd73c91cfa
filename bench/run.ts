// `npm run bench` (all, several trials) and `npm run bench -- --quick` (one trial each, a 10-scale
// restore and a shorter footprint: a few minutes).
// BENCH_TRIALS, BENCH_FAILOVER_TRIALS, BENCH_ANCHOR_TRIALS, BENCH_SWITCHOVER_TRIALS change the counts;
// BENCH_RESTORE_TRIALS, BENCH_RESTORE_SCALE (pgbench scale, 70 ≈ 1 GB), BENCH_CONTROL_TRIALS,
// BENCH_FOOTPRINT_WINDOWS (of 20 s); BENCH_ONLY=bootstrap,failover,switchover,restore,control,footprint picks parts.
import { benchBootstrap } from './bootstrap.js';
import { benchFailover, benchSwitchover } from './failover.js';
import { benchRestore } from './restore.js';
import { benchControlPlane } from './control-plane.js';
import { benchFootprint } from './footprint.js';
import { report, type Figure } from './lib.js';

const quick = process.argv.includes('--quick');
const n = (name: string, full: number) => (quick ? 1 : Number(process.env[name] ?? full));
const only = (process.env.BENCH_ONLY ?? 'bootstrap,failover,switchover,restore,control,footprint').split(',');
const log = (s: string) => console.error(s);
const figures: Figure[] = [];
const notes: string[] = [];
if (only.includes('bootstrap')) figures.push(await benchBootstrap(n('BENCH_TRIALS', 5), log));
if (only.includes('failover')) {
  const f = await benchFailover(n('BENCH_FAILOVER_TRIALS', 10), n('BENCH_ANCHOR_TRIALS', 3), log);
  figures.push(f.figure);
  notes.push(`failover: acknowledged inserts lost per trial (asynchronous replication): ${f.lost.join(', ')}; two-primary moments sampled every 200 ms: ${f.twoPrimary}`);
}
if (only.includes('switchover')) figures.push(await benchSwitchover(n('BENCH_SWITCHOVER_TRIALS', 5), log));
if (only.includes('restore')) figures.push(...(await benchRestore(n('BENCH_RESTORE_TRIALS', 3), Number(process.env.BENCH_RESTORE_SCALE ?? (quick ? 10 : 70)), log)));
if (only.includes('control')) figures.push(...(await benchControlPlane(n('BENCH_CONTROL_TRIALS', 5), log)));
if (only.includes('footprint')) figures.push(...(await benchFootprint(quick ? 1 : Number(process.env.BENCH_FOOTPRINT_WINDOWS ?? 3), 20, quick ? 10 : 30, log)));
console.log(report(figures));
for (const note of notes) console.log(note);
