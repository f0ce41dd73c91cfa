// repmgr's events (and pgha's fences), recorded as jobs on the control queue (the control worker acts on them).
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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

/** How old a hook's half-written file (mktemp's, not yet moved to *.event) may get before the drain deletes it. */
const STALE_TEMP_MS = 60_000;

/**
 * Record the events repmgr's hook spooled in `dir` (files `*.event`), oldest first (by the file's
 * modification time: the hook's names are random), each then deleted. `record` gets a job id made of
 * the file's name, so an event recorded again (the worker died between the add and the delete) is
 * one job. When `record` throws (Redis), that event and the ones after it stay for the next turn; a
 * file that is not an event is deleted with a `warn`, and so is a half-written one (a hook killed
 * between its mktemp and its mv) older than a minute. Returns how many were recorded; throws only
 * what `record` would not (never for one file).
 */
export async function drainEventSpool(
  dir: string,
  record: (e: { nodeId: number; event: string; success: boolean; at?: string; jobId: string }) => Promise<void>,
  warn: (line: string) => void,
  now = Date.now(),
): Promise<number> {
  let files: { name: string; mtimeMs: number }[];
  try {
    files = readdirSync(dir).flatMap((name) => {
      try {
        return [{ name, mtimeMs: statSync(join(dir, name)).mtimeMs }];
      } catch {
        return []; // gone meanwhile
      }
    });
  } catch {
    return 0; // no spool yet
  }
  const remove = (file: string) => {
    try {
      rmSync(file, { force: true });
    } catch (err) {
      warn(`event spool: ${file} not deleted: ${(err as Error).message}`);
    }
  };
  for (const f of files) if (!f.name.endsWith('.event') && now - f.mtimeMs > STALE_TEMP_MS) remove(join(dir, f.name));
  const events = files.filter((f) => f.name.endsWith('.event')).sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  let recorded = 0;
  for (const { name } of events) {
    const file = join(dir, name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      warn(`event spool: ${file} unreadable: ${(err as Error).message}`);
      continue;
    }
    const e = parseSpooledEvent(text);
    if (!e) {
      warn(`event spool: ${file} is not an event (${JSON.stringify(text.slice(0, 80))}): deleted`);
      remove(file);
      continue;
    }
    try {
      await record({ nodeId: e.nodeId, event: e.event, success: e.success === '1', at: e.at, jobId: `event-${e.nodeId}-${name.replace(/\.event$/, '')}` });
    } catch {
      break; // Redis: the next turn tries again, in order
    }
    remove(file);
    recorded++;
  }
  return recorded;
}

/** The event a promotion by a node worker's failover detector records (repmgrd's own is repmgrd_failover_promote). */
export const DETECTED_FAILOVER_EVENT = 'pgha_failover_promote';

/** Record an event of a node (repmgr's, or pgha's own such as a fence) on the control queue; `at` defaults to now. */
export async function recordClusterEvent(redis: RedisSettings, cluster: string, e: { nodeId: number; event: string; success: boolean; at?: string; jobId?: string }): Promise<void> {
  const connection = redisConnection(redis);
  const queue = new Queue(controlQueueName(cluster), { connection });
  try {
    // typed by the step catalogue, not loaded from it: repmgr runs this in a short-lived hook process
    const data: StepInput<'repmgr-event'> = { cluster, nodeId: e.nodeId, event: e.event, success: e.success, at: e.at ?? new Date().toISOString() };
    await queue.add(
      'repmgr-event',
      data,
      // jobId (a spooled event's): recorded again after a crash between the add and the file's delete, BullMQ keeps the one job
      { attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 1000, ...(e.jobId ? { jobId: e.jobId } : {}) },
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
