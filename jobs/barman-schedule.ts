// Primary step 8 (barman host): barman's schedules as BullMQ job schedulers instead of crontab lines
// (the barman worker also upserts them when it starts).
import { defineStep } from '../src/step.js';
import { upsertBarmanSchedules } from '../src/barman/schedules.js';

export default defineStep('barman-schedule', {
  async run(ctx) {
    const ids = await upsertBarmanSchedules(ctx.config);
    await ctx.log(`job schedulers ${ids.join(', ')}: barman cron every ${ctx.config.barman.cronEveryMs / 1000} s, backups ${ctx.config.barman.backupEveryMs ? `every ${ctx.config.barman.backupEveryMs / 1000} s` : `on "${ctx.config.barman.backupCron}" UTC`}`);
    return { schedulers: ids };
  },
});
