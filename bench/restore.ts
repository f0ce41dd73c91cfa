// Restore: a ≥ 1 GB database (pgbench scale 70) restored by `pgha restore` (until the restored primary
// serves, and the whole flow with its fresh backup), against `barman recover` of the same backup by hand.
import { mkdtempSync, rmSync, chownSync } from 'node:fs';
import { sleep } from '../src/wait.js';
import { execa } from 'execa';
import { Queue } from 'bullmq';
import { barmanPaths } from '../src/config/paths.js';
import { lookupUser } from '../src/exec/runner.js';
import { nodeQueueName } from '../src/queues.js';
import { redisConnection } from '../src/redis.js';
import { benchCluster, type BenchCluster } from './cluster.js';
import { writablePrimaries } from './stream.js';
import { median, type Figure } from './lib.js';
import { readFlowRecord } from '../src/flows/registry.js';
import type { Redis } from 'ioredis';

/**
 * Where one restore's time went, from its jobs' own timestamps (ms after `t0`, the CLI's start): the
 * part before the flow's first step (the CLI, its plan job on the barman worker, the enqueue), then per
 * step the wait for its worker to take it (the hop) and its run. The restore flow is a chain: each
 * step's wait is counted from the previous one's end.
 */
async function restoreSteps(connection: Redis, cluster: string, flowId: string, t0: number): Promise<{ step: string; waitMs: number; runMs: number }[]> {
  const record = await readFlowRecord(connection, cluster, flowId);
  if (!record) throw new Error(`restore flow ${flowId}: no flow record`);
  const out: { step: string; waitMs: number; runMs: number }[] = [];
  let prevEnd = t0;
  for (const s of record.steps) {
    const q = new Queue(s.queueName, { connection });
    const job = await q.getJob(s.jobId).finally(() => q.close());
    if (!job?.processedOn || !job.finishedOn) throw new Error(`restore flow ${flowId}: step ${s.jobId} has no timestamps`);
    const name = s.jobId.slice(flowId.length + 1);
    if (!out.length) out.push({ step: 'before the flow (CLI, plan, enqueue)', waitMs: 0, runMs: job.timestamp - t0 }), (prevEnd = job.timestamp);
    out.push({ step: name, waitMs: job.processedOn - prevEnd, runMs: job.finishedOn - job.processedOn });
    prevEnd = job.finishedOn;
  }
  return out;
}

/** The per-step table over all trials: median wait and run of each step, ms (markdown). */
function stepTable(trials: { step: string; waitMs: number; runMs: number }[][]): string {
  const rows = trials[0].map((r, i) => {
    const wait = median(trials.map((t) => t[i].waitMs));
    const run = median(trials.map((t) => t[i].runMs));
    return `| ${r.step} | ${wait.toFixed(0)} | ${run.toFixed(0)} | ${Math.max(...trials.map((t) => t[i].runMs)).toFixed(0)} |`;
  });
  return ['| step | wait for the worker, median ms | run, median ms | run, max ms |', '|---|---|---|---|', ...rows].join('\n');
}

/** On a 1-node cluster of its own, or on `shared` (left up; the restore then also re-clones its standbys). */
export async function benchRestore(trials: number, scale: number, log: (s: string) => void, shared?: BenchCluster): Promise<Figure[]> {
  const c = shared ?? (await benchCluster('restore', '127.0.16.11', { redis: 6397, dashboard: 8097 }, {}, 1));
  const pgha: number[] = [];
  const serving: number[] = [];
  const byHand: number[] = [];
  const byHandJobs: number[] = [];
  const steps: { step: string; waitMs: number; runMs: number }[][] = [];
  try {
    const primary = (await writablePrimaries(c.config))[0];
    const n = c.config.nodes.find((x) => x.name === primary)!;
    const t0 = Date.now();
    await execa('pgbench', ['-i', '-s', String(scale), '-q', '-h', n.host, '-U', 'repmgr', 'repmgr'], { env: { PGPASSWORD: c.config.repmgr.password } });
    const size = (await c.sql(n.name, "SELECT pg_database_size('repmgr') AS b")).rows[0].b;
    log(`restore: pgbench scale ${scale}: ${(Number(size) / 2 ** 30).toFixed(2)} GiB in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // on a shared cluster a failover's follow-up backup may still run: this one is then skipped (exit 1)
    let id: string | undefined;
    for (let tries = 0; !id; tries++) {
      const backup = await c.pgha(['backup']);
      id = /backup (\d{8}T\d{6}) DONE/.exec(backup.all ?? '')?.[1];
      if (!id && tries >= 30) throw new Error(`pgha backup took no backup:\n${backup.all}`);
      if (!id) await sleep(2000);
    }
    const b = barmanPaths(c.config);
    const barmanUser = lookupUser(c.config.osUsers.barman);
    for (let i = 0; i < trials; i++) {
      // barman recover by hand, with barman's defaults and with pgha's copy options (what the options
      // alone buy); which goes first alternates, the second one reads a warmer page cache
      const recoverByHand = async (jobs: string[]) => {
        const dest = mkdtempSync('/tmp/pgha-bench-recover-');
        chownSync(dest, barmanUser.uid, barmanUser.gid);
        const h0 = Date.now();
        await execa('runuser', ['-u', 'barman', '--', 'barman', '-c', b.mainConf, 'recover', ...jobs, b.server, id, dest]);
        const took = (Date.now() - h0) / 1000;
        rmSync(dest, { recursive: true, force: true });
        return took;
      };
      const withJobs = ['--jobs', String(c.config.barman.recoveryJobs)];
      if (i % 2 === 0) {
        byHand.push(await recoverByHand([]));
        byHandJobs.push(await recoverByHand(withJobs));
      } else {
        byHandJobs.push(await recoverByHand(withJobs));
        byHand.push(await recoverByHand([]));
      }
      const p0 = Date.now();
      const r = await c.pgha(['restore', '--yes', '--backup', id, '--target', 'immediate', '--node', n.name]);
      if (r.exitCode !== 0) throw new Error(`restore failed:\n${r.all}`);
      pgha.push((Date.now() - p0) / 1000);
      const flowId = /flow (\S+):/.exec(r.all ?? '')![1];
      const connection = redisConnection(c.config.redis);
      const q = new Queue(nodeQueueName(c.config.cluster, n.name), { connection });
      const installed = await q.getJob(`${flowId}-install-restored`);
      if (!installed?.finishedOn) throw new Error(`restore flow ${flowId}: no finished install-restored step on ${n.name}'s queue`);
      serving.push((installed.finishedOn - p0) / 1000);
      steps.push(await restoreSteps(connection, c.config.cluster, flowId, p0));
      await q.close();
      connection.disconnect();
      log(`restore trial ${i + 1}/${trials}: pgha restore ${pgha[i].toFixed(1)} s (primary serving after ${serving[i].toFixed(1)} s), barman recover by hand ${byHand[i].toFixed(1)} s (--jobs ${c.config.barman.recoveryJobs}: ${byHandJobs[i].toFixed(1)} s)`);
    }
    log(`restore: where the time goes (${trials} trials, from the jobs' timestamps; the whole flow, after the primary serves too):\n${stepTable(steps)}`);
  } finally {
    if (!shared) await c.destroy();
  }
  return [
    { name: `restore ${scale > 1 ? `pgbench scale ${scale}` : ''}: until the restored primary serves`, unit: 's', pgha: serving, baseline: byHand, baselineName: 'barman recover by hand', target: '≤ 1.2×' },
    { name: 'restore: whole flow (with the fresh backup)', unit: 's', pgha, baseline: byHand, baselineName: 'barman recover by hand' },
    { name: 'restore: until the restored primary serves, against barman recover --jobs as pgha runs it', unit: 's', pgha: serving, baseline: byHandJobs, baselineName: 'barman recover --jobs by hand' },
  ];
}
