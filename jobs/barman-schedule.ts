// Primary step 8 (barman host): `barman cron` as a BullMQ job scheduler instead of a crontab line.
// upsertJobScheduler keeps exactly one scheduler however often this runs.
import { Queue } from 'bullmq';
import { defineStep, StepDataBase } from '../src/step.js';
import { barmanQueueName } from '../src/queues.js';
import { redisConnection } from '../src/redis.js';

export const BARMAN_CRON_SCHEDULER = 'barman-cron';

export default defineStep({
  name: 'barman-schedule',
  schema: StepDataBase,
  async run(ctx) {
    const queue = new Queue(barmanQueueName(ctx.config.cluster), { connection: redisConnection(ctx.redisUrl) });
    try {
      await queue.upsertJobScheduler(
        BARMAN_CRON_SCHEDULER,
        { every: ctx.config.barman.cronEveryMs },
        { name: 'barman-cron', data: { cluster: ctx.config.cluster }, opts: { removeOnComplete: 50, removeOnFail: 50 } },
      );
    } finally {
      await queue.close();
    }
    await ctx.log(`job scheduler ${BARMAN_CRON_SCHEDULER}: barman cron every ${ctx.config.barman.cronEveryMs / 1000} s`);
    return { scheduler: BARMAN_CRON_SCHEDULER, everyMs: ctx.config.barman.cronEveryMs };
  },
});
