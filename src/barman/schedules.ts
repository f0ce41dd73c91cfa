// barman's schedules as BullMQ job schedulers (no crontab): cron, full backups, check. Upserted, so
// a changed config and a restarted worker update them and never duplicate them.
import { Queue } from 'bullmq';
import type { ClusterConfig } from '../config/schema.js';
import { barmanQueueName } from '../queues.js';
import { redisConnection } from '../redis.js';
import { stepJob } from '../step.js';

export const SCHEDULERS = { cron: 'barman-cron', backup: 'barman-backup', check: 'barman-check', reconcile: 'barman-reconcile' } as const;

/** How often barman's reconcile compares what it streams from with the primary (ms). */
export const reconcileEveryMs = (config: ClusterConfig) => Math.min(config.barman.cronEveryMs, 30_000);

/** The schedulers a config asks for (pure): id, repeat options, job template. */
export function barmanSchedules(config: ClusterConfig) {
  const data = { cluster: config.cluster };
  // no count-based trimming: BullMQ trims the whole queue's completed set, which would drop the
  // first-start flow's barman steps (and hang anyone watching that flow)
  const keep = { removeOnComplete: false, removeOnFail: false };
  const b = config.barman;
  return [
    // barman cron's completed runs (one a minute) are not kept: they buried the flows' steps in Bull
    // Board; a failed one stays. Removing the job itself trims nothing else
    { id: SCHEDULERS.cron, repeat: { every: b.cronEveryMs }, template: { ...stepJob('barman-cron', data), opts: { removeOnComplete: true, removeOnFail: false } } },
    {
      id: SCHEDULERS.backup,
      repeat: b.backupEveryMs ? { every: b.backupEveryMs } : { pattern: b.backupCron, tz: 'UTC' },
      template: { ...stepJob('barman-backup', data), opts: keep },
    },
    { id: SCHEDULERS.check, repeat: { every: b.checkEveryMs }, template: { ...stepJob('barman-check', data), opts: keep } },
    // a completed reconcile is not kept (one every 30 s would crowd the queue; a repair it starts is a
    // flow of its own); removing the job itself, not a count, trims nothing else
    { id: SCHEDULERS.reconcile, repeat: { every: reconcileEveryMs(config) }, template: { ...stepJob('barman-reconcile', data), opts: { removeOnComplete: true, removeOnFail: false } } },
  ];
}

export async function upsertBarmanSchedules(config: ClusterConfig): Promise<string[]> {
  const connection = redisConnection(config.redis);
  const queue = new Queue(barmanQueueName(config.cluster), { connection });
  try {
    for (const s of barmanSchedules(config)) await queue.upsertJobScheduler(s.id, s.repeat, s.template);
    return barmanSchedules(config).map((s) => s.id);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** When the next scheduled full backup runs (ISO time), or null. */
export async function nextBackupAt(queue: Queue): Promise<string | null> {
  const s = await queue.getJobScheduler(SCHEDULERS.backup);
  return s?.next ? new Date(s.next).toISOString() : null;
}
