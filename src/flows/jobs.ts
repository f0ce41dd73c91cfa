// Run one job on a queue and wait for its result: how the CLI, the API and status ask the barman
// worker (it runs on the barman host) for something that only it can read.
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { ClusterConfig } from '../config/schema.js';
import { barmanQueueName } from '../queues.js';
import { redisConnection } from '../redis.js';
import { stepJob, type StepInput, type StepOn } from '../step.js';

/**
 * Add job `name` with `data` (and the cluster) to the barman queue and wait up to `timeoutMs` for its
 * return value. Throws when the job fails (its error) or the wait runs out (BullMQ's timeout: the
 * barman worker or Redis did not answer; a retry may help). The job is removed once its result is read.
 */
export async function runBarmanJob<T, K extends StepOn<'barman'> = StepOn<'barman'>>(
  config: ClusterConfig,
  name: K,
  timeoutMs: number,
  // required when the step's schema needs more than the cluster, optional when it does not
  ...[data]: {} extends Omit<StepInput<K>, 'cluster'> ? [data?: Omit<StepInput<K>, 'cluster'>] : [data: Omit<StepInput<K>, 'cluster'>]
): Promise<T> {
  const connection = redisConnection(config.redis);
  const eventsConnection = redisConnection(config.redis);
  const queue = new Queue(barmanQueueName(config.cluster), { connection });
  const events = new QueueEvents(barmanQueueName(config.cluster), { connection: eventsConnection });
  try {
    await events.waitUntilReady();
    const { data: jobData } = stepJob(name, { cluster: config.cluster, ...data } as StepInput<K>);
    // the random part: two callers in the same millisecond get two jobs
    const job = await queue.add(name, jobData, { jobId: `${name}-${Date.now()}-${randomBytes(3).toString('hex')}`, attempts: 1, removeOnComplete: false, removeOnFail: false });
    try {
      return (await job.waitUntilFinished(events, timeoutMs)) as T;
    } finally {
      // removed once read, by this caller: a step that ends at once (barman-list-backups reads files,
      // in milliseconds) can finish before waitUntilFinished listens, which then reads the finished
      // job back; removed by BullMQ on completion it was gone ("Missing key for job", CI). An age or
      // count on removeOnComplete is no way out: BullMQ applies it to every finished job of the queue.
      await job.remove().catch(() => {});
    }
  } finally {
    await queue.close();
    await events.close();
    // BullMQ leaves connections it was given open
    connection.disconnect();
    eventsConnection.disconnect();
  }
}
