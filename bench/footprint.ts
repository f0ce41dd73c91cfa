// Footprint at rest: resident memory and CPU seconds per minute of pgha's processes on an idle local
// cluster (node worker with its health checks, barman worker with its schedules, control worker,
// dashboard), beside what the raw tools use on the same node in the same minutes (node1's PostgreSQL
// postmaster for memory; node1's PostgreSQL processes and repmgrd for CPU).
import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '../src/wait.js';
import { join } from 'node:path';
import { nodePaths } from '../src/config/paths.js';
import { postmasterStatus } from '../src/postgres/actions.js';
import { readPidFile } from '../src/fsutil.js';
import { benchCluster, type BenchCluster } from './cluster.js';
import type { Figure } from './lib.js';

const TICKS = 100; // USER_HZ on Linux

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** utime + stime of a process, seconds; with `reaped`, also its waited-for children's (cutime + cstime); 0 once it is gone. */
function cpuSeconds(pid: number, reaped = false): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0; // a backend that ended meanwhile: its time is in the postmaster's cutime
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = Number(fields[11]) + Number(fields[12]);
  return (reaped ? own + Number(fields[13]) + Number(fields[14]) : own) / TICKS;
}

/** The children of a process (PostgreSQL's backends and auxiliary processes). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** On a cluster of its own, or on `shared` (left up). */
export async function benchFootprint(windows: number, windowSecs: number, settleSecs: number, log: (s: string) => void, shared?: BenchCluster): Promise<Figure[]> {
  const c = shared ?? (await benchCluster('footprint', '127.0.24.11', { redis: 6398, dashboard: 8098 }));
  try {
    const pid = (name: string) => readPidFile(join(c.dir, 'pids', `${name}.pid`))!;
    const ours = { 'node worker': pid('node1-worker'), 'barman worker': pid('barman-worker'), 'control worker': pid('control-worker'), dashboard: pid('dashboard') };
    const postmaster = postmasterStatus(nodePaths(c.config, 'node1').dataDir)!.pid;
    const repmgrd = readPidFile(nodePaths(c.config, 'node1').repmgrdPid)!;
    const rawCpu = () => cpuSeconds(postmaster, true) + [...childrenOf(postmaster), repmgrd].reduce((s, p) => s + cpuSeconds(p), 0);
    log(`footprint: letting the cluster settle for ${settleSecs} s`);
    await sleep(settleSecs * 1000);
    const rss: Record<string, number[]> = {};
    const cpu: Record<string, number[]> = {};
    const raw = { rss: [] as number[], cpu: [] as number[] };
    for (let w = 0; w < windows; w++) {
      const before = Object.fromEntries(Object.entries(ours).map(([k, p]) => [k, cpuSeconds(p)]));
      const rawBefore = rawCpu();
      await sleep(windowSecs * 1000);
      const perMinute = 60 / windowSecs;
      for (const [k, p] of Object.entries(ours)) {
        (rss[k] ??= []).push(rssMiB(p));
        (cpu[k] ??= []).push((cpuSeconds(p) - before[k]) * perMinute);
      }
      raw.rss.push(rssMiB(postmaster));
      raw.cpu.push((rawCpu() - rawBefore) * perMinute);
      log(`footprint window ${w + 1}/${windows}: ${Object.keys(ours).map((k) => `${k} ${rss[k][w].toFixed(0)} MiB ${cpu[k][w].toFixed(2)} cpu-s/min`).join(', ')}; PostgreSQL+repmgrd ${raw.cpu[w].toFixed(2)} cpu-s/min`);
    }
    return Object.keys(ours).flatMap((k): Figure[] => [
      { name: `${k} at rest, resident memory`, unit: 'MiB', pgha: rss[k], baseline: raw.rss, baselineName: "node1's postmaster", target: '≤ 100 MiB' },
      { name: `${k} at rest, CPU`, unit: 'cpu-s/min', pgha: cpu[k], baseline: raw.cpu, baselineName: "node1's PostgreSQL + repmgrd", target: '≤ 1' },
    ]);
  } finally {
    if (!shared) await c.destroy();
  }
}
