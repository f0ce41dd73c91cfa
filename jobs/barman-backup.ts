// A base backup now: on schedule, on demand (`pgha backup`), and after a promotion (the first one on
// the new timeline). One at a time: a backup asked for while another runs is skipped, with a log line.
import { Queue } from 'bullmq';
import { existsSync } from 'node:fs';
import { defineStep } from '../src/step.js';
import { barmanPaths, masterNode } from '../src/config/paths.js';
import { stepJobId } from '../src/flows/chain.js';
import { firstStartFlowId } from '../src/flows/first-start.js';
import { barman, catalogue, deleteFailedBackups } from '../src/barman/actions.js';
import { barmanQueueName } from '../src/queues.js';
import { redisConnection } from '../src/redis.js';

export default defineStep('barman-backup', {
  async run(ctx) {
    const { server, serverConf } = barmanPaths(ctx.config);
    if (!existsSync(serverConf)) {
      await ctx.log(`barman is not configured yet (${serverConf} is missing): backup skipped until the primary's first start configures it`);
      return { skipped: 'not configured' };
    }
    const connection = redisConnection(ctx.config.redis);
    const queue = new Queue(barmanQueueName(ctx.config.cluster), { connection });
    try {
      // until the first start has taken the first backup, WAL streaming may not run yet and
      // `barman backup --wait` would hold a worker slot the first backup needs
      const first = await queue.getJob(stepJobId(firstStartFlowId(ctx.config.cluster, masterNode(ctx.config).name), 'barman-first-backup'));
      if (first && (await first.getState()) !== 'completed') {
        await ctx.log('the first start has not taken its first backup yet: this one is skipped');
        return { skipped: 'first backup not taken yet' };
      }
      const me = await queue.getJob(ctx.jobId);
      const mine = [me?.processedOn ?? Date.now(), ctx.jobId] as const;
      // the one that started first runs; on a tie, the smaller id
      const running = (await queue.getActive()).filter(
        (j) => j.name === 'barman-backup' && j.id !== ctx.jobId && ((j.processedOn ?? 0) < mine[0] || ((j.processedOn ?? 0) === mine[0] && String(j.id) < mine[1])),
      );
      if (running.length) {
        await ctx.log(`backup ${running[0].id} still runs: this one is skipped`);
        return { skipped: `backup ${running[0].id} still runs` };
      }
    } finally {
      await queue.close();
      connection.disconnect();
    }
    // this step's own earlier attempt, if its worker was killed, left a FAILED or STARTED backup
    // behind; a delete that fails must not cost this backup (the reconcile tries again)
    await deleteFailedBackups(ctx).catch((err: Error) => ctx.log(`interrupted backups not deleted now: ${err.message}`));
    const before = new Set(catalogue(ctx.config).map((b) => b.id));
    await ctx.progress(20, 'barman backup');
    await barman(ctx, ['backup', '--wait', '--wait-timeout', '300', server], { timeoutMs: 900_000 });
    const made = catalogue(ctx.config).filter((b) => !before.has(b.id));
    const done = made.find((b) => b.status === 'DONE');
    if (!done) throw new Error(`barman backup ended without a DONE backup (${made.map((b) => `${b.id} ${b.status}`).join(', ') || 'none listed'})`);
    await ctx.log(`backup ${done.id} DONE, ${done.sizeBytes ?? '?'} bytes`);
    return { backupId: done.id, sizeBytes: done.sizeBytes, endTime: done.endTime };
  },
});
