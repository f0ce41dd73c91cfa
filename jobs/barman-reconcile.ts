// Scheduled on the barman host (every 30 s at most): compares what barman streams from and backs up
// with the cluster as read now (src/barman/reconcile.ts) and starts the repair as a flow; deletes
// the backups of interrupted attempts (FAILED, or STARTED with no barman backup running). Reads only (backup.info files, the nodes, the queue) unless
// a repair is due: no barman run on the quiet path.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Queue } from 'bullmq';
import { defineStep } from '../src/step.js';
import { barmanPaths } from '../src/config/paths.js';
import { catalogue, deleteFailedBackups } from '../src/barman/actions.js';
import { decideBarmanRepair, repairRetryAfterMs, walTimeline } from '../src/barman/reconcile.js';
import { serverConfPrimary } from '../src/barman/render.js';
import { buildBarmanRepairFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';
import { barmanQueueName, clusterTag } from '../src/queues.js';
import { redisConnection } from '../src/redis.js';
import { readClusterView } from '../src/probe.js';
import { majorityPrimary } from '../src/roles/view.js';

/** barman steps whose presence in the queue means an operation on barman is under way. */
const OPERATIONS = new Set(['barman-config', 'barman-first-backup', 'barman-switch-primary', 'barman-backup', 'barman-recover', 'barman-restore-plan', 'barman-ready']);

export default defineStep('barman-reconcile', {
  async run(ctx) {
    const { serverConf } = barmanPaths(ctx.config);
    // a server file naming no node of this config (edited by hand) is repaired like one naming a standby
    const pointsAt = existsSync(serverConf) ? (serverConfPrimary(ctx.config, readFileSync(serverConf, 'utf8')) ?? 'an unknown host') : null;
    const writable = majorityPrimary(await readClusterView(ctx.config));
    const primary = writable && writable.timeline != null ? { name: writable.name, timeline: writable.timeline } : null;
    const connection = redisConnection(ctx.config.redis);
    const queue = new Queue(barmanQueueName(ctx.config.cluster), { connection });
    try {
      // a scheduler's next run waits as a delayed job: not an operation under way (a retry's backoff is);
      // nor is a later step waiting for its children: after a step failed for good it waits forever
      const pending = [
        ...(await queue.getJobs(['active', 'waiting', 'prioritized'], 0, 200)),
        ...(await queue.getJobs(['delayed'], 0, 200)).filter((j) => j && !j.repeatJobKey),
      ];
      const busy = pending.filter((j) => j && j.id !== ctx.jobId && OPERATIONS.has(j.name)).map((j) => j.name);
      const changedAt = existsSync(serverConf) ? statSync(serverConf).mtimeMs : 0;
      const checks = (await queue.getJobs(['completed'], 0, 50)).filter((j) => j?.name === 'barman-check' && typeof j.returnvalue?.ok === 'boolean' && (j.finishedOn ?? 0) > changedAt);
      checks.sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0));
      const backups = catalogue(ctx.config);
      const repair = decideBarmanRepair({
        pointsAt,
        primary,
        backupTimelines: backups.filter((b) => b.status === 'DONE').flatMap((b) => walTimeline(b.walBegin) ?? []),
        busy,
        checkFailed: checks[0]?.returnvalue.failed ?? [],
      });
      await ctx.log(repair.reason);
      const seenKey = `pgha:${clusterTag(ctx.config.cluster)}:barman-repair-seen`;
      if (repair.action === 'none') {
        await connection.del(seenKey);
        if (pointsAt !== null && !busy.length && backups.some((b) => b.status === 'FAILED' || b.status === 'STARTED')) return { repair, deleted: await deleteFailedBackups(ctx) };
        return { repair };
      }
      // seen on two runs in a row: a promotion's own follow-up flow, enqueued a moment after it, goes first
      const what = `${repair.action} ${repair.primary}`;
      const seen = await connection.get(seenKey);
      if (seen !== what) {
        await connection.set(seenKey, what, 'EX', 600);
        await ctx.log(`repairs on the next run if it still sees this (a follow-up flow may be on its way)`);
        return { repair, waiting: true };
      }
      // repairs of one primary and timeline are numbered; the next waits repairRetryAfterMs after the last
      const repairsKey = `pgha:${clusterTag(ctx.config.cluster)}:barman-repairs:${repair.primary}-tl${primary!.timeline}`;
      const last = JSON.parse((await connection.get(repairsKey)) ?? 'null') as { n: number; at: number } | null;
      if (last && Date.now() - last.at < repairRetryAfterMs(last.n)) {
        await ctx.log(`repair ${last.n} of ${repair.primary} on timeline ${primary!.timeline} started ${Math.round((Date.now() - last.at) / 1000)} s ago and did not end it: the next one starts ${Math.round(repairRetryAfterMs(last.n) / 1000)} s after it (see that flow in Bull Board)`);
        return { repair, again: false };
      }
      const n = (last?.n ?? 0) + 1;
      const flowId = `${ctx.config.cluster}-barman-repair-${repair.primary}-tl${primary!.timeline}-${n}`;
      // kept (a few bytes per primary and timeline): numbering must never start over, a flow id that exists is not run again
      await connection.set(repairsKey, JSON.stringify({ n, at: Date.now() }));
      await startFlow(ctx.config.redis, buildBarmanRepairFlow(ctx.config, repair.primary, flowId, { switchFirst: repair.action === 'switch', reset: repair.action === 'switch' && repair.reset }), 'barman-repair');
      await connection.del(seenKey);
      await ctx.log(`started flow ${flowId}: ${repair.action === 'switch' ? `barman streams from ${repair.primary}, then a backup` : 'a backup'}`);
      return { repair, flowId };
    } finally {
      await queue.close();
      connection.disconnect();
    }
  },
});
