// repmgr's events (and pgha's fences), recorded as jobs on the control queue (the control worker acts on them).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { ClusterConfig } from './config/schema.js';
import { RedisSchema, type RedisSettings } from './config/redis-schema.js';
import { controlQueueName } from './queues.js';
import { redisConnection } from './redis.js';
import type { StepInput } from './step.js';

/**
 * repmgr's event time (%t: PostgreSQL's timestamptz text, "2026-12-01 17:39:58.123456+00", or repmgr's
 * own "%Y-%m-%d %H:%M:%S%z" when the event was not written to a database) as an ISO string (pure);
 * null when it is not one of those.
 */
export function repmgrEventTime(t: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(Z|[+-]\d{2})(?::?(\d{2}))?$/.exec(t.trim());
  if (!m) return null;
  const zone = m[3] === 'Z' ? 'Z' : `${m[3]}:${m[4] ?? '00'}`;
  const d = new Date(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The hook's event; `at` is repmgr's own time of it (%t), so that events sort as they happened, not as they reached Redis. */
export async function recordEvent(o: { redisFile: string; cluster: string; nodeId: number; event: string; success: string; at?: string }): Promise<void> {
  await recordClusterEvent(RedisSchema.parse(JSON.parse(readFileSync(o.redisFile, 'utf8'))), o.cluster, {
    nodeId: o.nodeId,
    event: o.event,
    success: o.success === '1',
    at: (o.at && repmgrEventTime(o.at)) || undefined,
  });
}

/** A spooled event file's one line, "NODE_ID EVENT SUCCESS TIME" as the hook wrote it (pure); null when it is not one. */
export function parseSpooledEvent(text: string): { nodeId: number; event: string; success: string; at?: string } | null {
  const m = /^(\d+) ([a-z_]+) ([01])(?: (.*))?$/.exec(text.trim());
  if (!m) return null;
  return { nodeId: Number(m[1]), event: m[2], success: m[3], at: m[4] ? (repmgrEventTime(m[4]) ?? undefined) : undefined };
}

/**
 * Record the events repmgr's hook spooled in `dir` (files `*.event`), each then deleted; one that
 * cannot be recorded now (Redis down) stays for the next turn; a file that is not an event is deleted
 * with a `warn`. Returns how many were recorded. Never throws for one event.
 */
export async function drainEventSpool(
  dir: string,
  record: (e: { nodeId: number; event: string; success: boolean; at?: string }) => Promise<void>,
  warn: (line: string) => void,
): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.event')).sort();
  } catch {
    return 0; // no spool yet
  }
  let recorded = 0;
  for (const name of names) {
    const file = join(dir, name);
    const e = parseSpooledEvent(readFileSync(file, 'utf8'));
    if (!e) {
      warn(`event spool: ${file} is not an event (${JSON.stringify(readFileSync(file, 'utf8').slice(0, 80))}): deleted`);
      rmSync(file, { force: true });
      continue;
    }
    try {
      await record({ nodeId: e.nodeId, event: e.event, success: e.success === '1', at: e.at });
    } catch {
      break; // Redis: the next turn tries again, in order
    }
    rmSync(file, { force: true });
    recorded++;
  }
  return recorded;
}

/** The event a promotion by a node worker's failover detector records (repmgrd's own is repmgrd_failover_promote). */
export const DETECTED_FAILOVER_EVENT = 'pgha_failover_promote';

/** Record an event of a node (repmgr's, or pgha's own such as a fence) on the control queue; `at` defaults to now. */
export async function recordClusterEvent(redis: RedisSettings, cluster: string, e: { nodeId: number; event: string; success: boolean; at?: string }): Promise<void> {
  const connection = redisConnection(redis);
  const queue = new Queue(controlQueueName(cluster), { connection });
  try {
    // typed by the step catalogue, not loaded from it: repmgr runs this in a short-lived hook process
    const data: StepInput<'repmgr-event'> = { cluster, nodeId: e.nodeId, event: e.event, success: e.success, at: e.at ?? new Date().toISOString() };
    await queue.add(
      'repmgr-event',
      data,
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
