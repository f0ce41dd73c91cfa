// Every flow enqueued is recorded (its steps' queues and job ids), so the API and the cluster page can
// find a flow by id and show the ones running, whoever started it (CLI, API, a worker, local up).
import type { FlowJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { flowSteps } from './chain.js';
import { clusterTag } from '../queues.js';
import { quickRedisConnection } from '../redis.js';
import type { RedisSettings } from '../config/schema.js';
import type { MaintenanceRecord } from '../roles/maintenance.js';

export interface FlowRecord {
  flowId: string;
  scenario: string;
  createdAt: string;
  steps: { step: string; queueName: string; jobId: string }[];
}

/** How many flow records are kept (the oldest go first; their jobs stay in their queues). */
export const FLOW_RECORDS_KEPT = 1000;

// The cluster's hash tag: on Redis Cluster these keys live in the slot of the cluster's queues.
const indexKey = (cluster: string) => `pgha:${clusterTag(cluster)}:flows`;
const recordKey = (cluster: string) => `pgha:${clusterTag(cluster)}:flow-records`;

/** The record of a flow tree (pure). */
export function flowRecord(flowId: string, scenario: string, tree: FlowJob, now = new Date()): FlowRecord {
  return {
    flowId,
    scenario,
    createdAt: now.toISOString(),
    steps: flowSteps(tree).map((s) => ({ step: s.name, queueName: s.queueName, jobId: s.opts!.jobId! })),
  };
}

/** Record a flow; a flow already recorded keeps its first record (enqueueing is idempotent too). */
export async function recordFlow(connection: Redis, cluster: string, record: FlowRecord): Promise<void> {
  const added = await connection.hsetnx(recordKey(cluster), record.flowId, JSON.stringify(record));
  if (!added) return;
  await connection.zadd(indexKey(cluster), Date.parse(record.createdAt), record.flowId);
  const surplus = (await connection.zcard(indexKey(cluster))) - FLOW_RECORDS_KEPT;
  if (surplus > 0) {
    const old = await connection.zrange(indexKey(cluster), 0, surplus - 1);
    await connection.zrem(indexKey(cluster), ...old);
    await connection.hdel(recordKey(cluster), ...old);
  }
}

export async function readFlowRecord(connection: Redis, cluster: string, flowId: string): Promise<FlowRecord | null> {
  const raw = await connection.hget(recordKey(cluster), flowId);
  return raw ? (JSON.parse(raw) as FlowRecord) : null;
}

/** The newest flow records, newest first. */
export async function recentFlowRecords(connection: Redis, cluster: string, limit: number): Promise<FlowRecord[]> {
  const ids = await connection.zrevrange(indexKey(cluster), 0, limit - 1);
  if (!ids.length) return [];
  const raws = await connection.hmget(recordKey(cluster), ...ids);
  return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as FlowRecord);
}

const pauseKey = (cluster: string) => `pgha:${clusterTag(cluster)}:failover-pauses`;

/** A flow that paused automatic failover (repmgrd) cluster-wide for its own steps, and when. */
export interface FailoverPauseRecord {
  flowId: string;
  at: string;
}

/** Record a flow's hold on the pause (one field per flow: flows that overlap each keep theirs). */
export async function recordFailoverPause(connection: Redis, cluster: string, record: FailoverPauseRecord): Promise<void> {
  await connection.hset(pauseKey(cluster), record.flowId, JSON.stringify(record));
}

/** Drop flow `flowId`'s hold (its resume step, or pgha resume --force). */
export async function clearFailoverPause(connection: Redis, cluster: string, flowId: string): Promise<void> {
  await connection.hdel(pauseKey(cluster), flowId);
}

/** Every flow's hold, newest first. */
export async function readFailoverPauses(connection: Redis, cluster: string): Promise<FailoverPauseRecord[]> {
  const raw = await connection.hvals(pauseKey(cluster));
  return raw.map((r) => JSON.parse(r) as FailoverPauseRecord).sort((a, b) => b.at.localeCompare(a.at));
}

const maintenanceKey = (cluster: string) => `pgha:${clusterTag(cluster)}:maintenance`;

/** Record (or, with null, clear) the operator's maintenance mode (`pgha pause` / `pgha resume`). */
export async function recordMaintenance(connection: Redis, cluster: string, record: MaintenanceRecord | null): Promise<void> {
  if (record) await connection.set(maintenanceKey(cluster), JSON.stringify(record));
  else await connection.del(maintenanceKey(cluster));
}

export async function readMaintenance(connection: Redis, cluster: string): Promise<MaintenanceRecord | null> {
  const raw = await connection.get(maintenanceKey(cluster));
  return raw ? (JSON.parse(raw) as MaintenanceRecord) : null;
}

const failoverClaimKey = (cluster: string, timeline: number | null) => `pgha:${clusterTag(cluster)}:failover-claim:tl${timeline ?? 'unknown'}`;

/**
 * Claim the automatic failover away from `timeline` (the one the standbys were following) for
 * `claimant` (a failover flow's id, or `repmgrd:<node>`): the first claim holds for `ttlMs` and is
 * the one answer every caller gets, so the node workers' detectors and repmgrd's elections never
 * promote two nodes for one lost primary. Returns the claimant that holds it (the caller's own when
 * it won, or claimed it before). Throws when Redis does not answer.
 */
export async function claimFailover(connection: Redis, cluster: string, timeline: number | null, claimant: string, ttlMs: number): Promise<string> {
  // one command: the holder it finds, or none when this call set it (Redis 7's SET … NX GET)
  const before = await connection.set(failoverClaimKey(cluster, timeline), claimant, 'PX', ttlMs, 'NX', 'GET');
  return before ?? claimant;
}

/** Drop `claimant`'s claim (a check that refused, a flow that never started), never another's. */
export async function releaseFailover(connection: Redis, cluster: string, timeline: number | null, claimant: string): Promise<void> {
  await connection.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, failoverClaimKey(cluster, timeline), claimant);
}

/** How long a claim on one failover holds: one automatic promotion per lost timeline meanwhile. */
export const FAILOVER_CLAIM_TTL_MS = 120_000;

/**
 * A PromotionCheck's claim and release (src/repmgr/validate.ts) for `claimant`. `claim` resolves to
 * the other claimant that holds this failover, or null when `claimant` holds it, or when Redis does
 * not answer within `timeoutMs` (then repmgrd alone decides, as it would without the detector; `log`
 * says so). `release` drops the claim if `claimant` still holds it (a check that refused after it).
 */
export function failoverClaim(redis: RedisSettings, cluster: string, claimant: string, log: (l: string) => void, timeoutMs = 1000) {
  const withRedis = async <T>(fn: (c: Redis) => Promise<T>, what: string): Promise<T | null> => {
    const connection = quickRedisConnection(redis, timeoutMs);
    try {
      await connection.connect();
      return await fn(connection);
    } catch (err) {
      log(`the failover claim could not be ${what} (Redis: ${(err as Error).message.split('\n')[0]}): going on without it`);
      return null;
    } finally {
      connection.disconnect();
    }
  };
  return {
    claim: async (timeline: number | null): Promise<string | null> => {
      const holder = await withRedis((c) => claimFailover(c, cluster, timeline, claimant, FAILOVER_CLAIM_TTL_MS), 'asked');
      return holder === null || holder === claimant ? null : holder;
    },
    release: async (timeline: number | null): Promise<void> => void (await withRedis((c) => releaseFailover(c, cluster, timeline, claimant), 'released')),
  };
}
