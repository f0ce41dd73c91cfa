// repmgr's events (and pgha's fences), recorded as jobs on the control queue (the control worker acts on them).
import { readFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { RedisSchema, type ClusterConfig, type RedisSettings } from './config/schema.js';
import { controlQueueName } from './queues.js';
import { redisConnection } from './redis.js';

export async function recordEvent(o: { redisFile: string; cluster: string; nodeId: number; event: string; success: string }): Promise<void> {
  await recordClusterEvent(RedisSchema.parse(JSON.parse(readFileSync(o.redisFile, 'utf8'))), o.cluster, { nodeId: o.nodeId, event: o.event, success: o.success === '1' });
}

/** Record an event of a node (repmgr's, or pgha's own such as a fence) on the control queue. */
export async function recordClusterEvent(redis: RedisSettings, cluster: string, e: { nodeId: number; event: string; success: boolean }): Promise<void> {
  const connection = redisConnection(redis);
  const queue = new Queue(controlQueueName(cluster), { connection });
  try {
    await queue.add(
      'repmgr-event',
      { cluster, nodeId: e.nodeId, event: e.event, success: e.success, at: new Date().toISOString() },
      { attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 1000 },
    );
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

export interface ClusterEvent {
  at: string;
  node: string;
  event: string;
  success: boolean;
  followUp?: string;
}

export async function readEvents(config: ClusterConfig, limit = 200): Promise<ClusterEvent[]> {
  const connection = redisConnection(config.redis);
  const queue = new Queue(controlQueueName(config.cluster), { connection });
  try {
    const jobs = await queue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed'], 0, limit);
    return jobs
      .filter((j) => j?.name === 'repmgr-event')
      .map((j) => ({
        at: j.data.at,
        node: config.nodes[j.data.nodeId - 1]?.name ?? `id ${j.data.nodeId}`,
        event: j.data.event,
        success: j.data.success,
        followUp: j.returnvalue?.followUp,
      }))
      .sort((a, b) => b.at.localeCompare(a.at));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
