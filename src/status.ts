// The cluster's topology, read live from the nodes (never from a copy in Redis), and barman's backups.
import { lsnToBytes } from './postgres/lsn.js';
import { Queue, QueueEvents } from 'bullmq';
import type pg from 'pg';
import type { ClusterConfig } from './config/schema.js';
import { nodePaths } from './config/paths.js';
import { connectAs, postmasterStatus } from './postgres/actions.js';
import { barmanQueueName } from './queues.js';
import type { Redis } from 'ioredis';
import { readFailoverPause, readFlowRecord, type FailoverPauseRecord } from './flows/registry.js';
import { flowState, readStepStates } from './flows/run.js';
import { redisConnection } from './redis.js';
import type { PeerView } from './roles/decide.js';
import type { NodeSeen } from './roles/promotion.js';
import { hasMajority } from './roles/quorum.js';
import type { BackupInfo } from './barman/actions.js';
import { nextBackupAt } from './barman/schedules.js';

export type Role = 'primary' | 'standby' | 'down' | 'unknown';

export interface NodeStatus {
  name: string;
  host: string;
  port: number;
  role: Role;
  upstream: string | null;
  timeline: number | null;
  lagBytes: number | null;
  /** The furthest WAL it has: received or replayed on a standby, current on a primary (LSN text). */
  lsn: string | null;
  pid: number | null;
  /** `repmgr service pause` is in effect on this node (automatic failover off); undefined when it did not answer. */
  repmgrdPaused?: boolean;
  error?: string;
}

export interface BarmanStatus {
  backups: { id: string; status: string; endTime: string | null }[];
  /** The newest DONE backup. */
  lastBackup?: { id: string; endTime: string | null; sizeBytes: number | null } | null;
  nextBackupAt?: string | null;
  /** The last scheduled `barman check`: ok, which checks failed, when. */
  lastCheck?: { ok: boolean; failed: string[]; at: string } | null;
  /** WAL streaming (receive-wal) as the last check saw it. */
  walStreaming?: boolean | null;
  error?: string;
}

/** Automatic failover (repmgrd) paused or not, and by what. */
export interface FailoverState {
  paused: boolean;
  /** Nodes that answered with repmgrd paused. */
  pausedOn: string[];
  /** The flow that paused it (recorded by its set-repmgrd-paused step), its state and the step it is at or failed at. */
  by: { flowId: string; since: string; state: string | null; step: string | null } | null;
  /** One line for people: what is paused, by whom, since when, and what resumes it. */
  message: string;
}

export interface ClusterStatus {
  cluster: string;
  nodes: NodeStatus[];
  barman: BarmanStatus;
  automaticFailover?: FailoverState;
}

/**
 * Automatic failover's state from the nodes' answers, the recorded pause and that flow's steps (pure).
 * A flow that failed while repmgrd was paused is named with its failed step: retrying that step
 * (Bull Board's retry) finishes the flow, whose last step resumes repmgrd.
 */
export function failoverState(nodes: NodeStatus[], pause: FailoverPauseRecord | null, flow: { state: string; step: string | null } | null, pauseKnown = true): FailoverState {
  const pausedOn = nodes.filter((n) => n.repmgrdPaused).map((n) => n.name);
  if (!pausedOn.length) return { paused: false, pausedOn, by: null, message: 'automatic failover on' };
  const head = `automatic failover PAUSED (repmgrd paused on ${pausedOn.join(', ')})`;
  // a flow that completed is not what holds the pause now (a restore ends without a resume step)
  if (!pause || flow?.state === 'completed') {
    const who = pauseKnown ? 'not by a pgha flow' : 'by whom is unknown (Redis did not answer)';
    return { paused: true, pausedOn, by: null, message: `${head}, ${who}: no standby is promoted by itself until repmgrd is unpaused (repmgr service unpause)` };
  }
  const by = { flowId: pause.flowId, since: pause.at, state: flow?.state ?? null, step: flow?.step ?? null };
  const what =
    flow?.state === 'failed'
      ? `by flow ${pause.flowId}, which FAILED at step ${flow.step ?? '?'}: retry that step in the dashboard (Bull Board) to finish the flow, whose last step resumes failover`
      : `by flow ${pause.flowId} (${flow ? `${flow.state}${flow.step ? `, at step ${flow.step}` : ''}` : 'its record is gone'})`;
  return { paused: true, pausedOn, by, message: `${head} since ${pause.at} ${what}; no standby is promoted by itself meanwhile` };
}

/** failoverState read live: the pause record and its flow's steps from Redis; within timeoutMs, else (or when Redis fails) who paused is unknown. */
export function readFailoverState(config: ClusterConfig, connection: Redis, queue: (name: string) => Queue, nodes: NodeStatus[], timeoutMs: number): Promise<FailoverState> {
  const unknown = () => failoverState(nodes, null, null, false);
  return within(readFailoverRecord(config, connection, queue, nodes).catch(unknown), timeoutMs, unknown);
}

async function readFailoverRecord(config: ClusterConfig, connection: Redis, queue: (name: string) => Queue, nodes: NodeStatus[]): Promise<FailoverState> {
  const pause = await readFailoverPause(connection, config.cluster);
  if (!pause || !nodes.some((n) => n.repmgrdPaused)) return failoverState(nodes, pause, null);
  const record = await readFlowRecord(connection, config.cluster, pause.flowId);
  if (!record) return failoverState(nodes, pause, null);
  const states = await readStepStates(queue, record.flowId, record.steps);
  const at = states.find((st) => st.state === 'failed' || st.state === 'missing') ?? states.find((st) => st.state !== 'completed');
  return failoverState(nodes, pause, { state: flowState(states), step: at?.step ?? null });
}

export { lsnToBytes };

export interface Probe {
  recovery: boolean;
  lsn: string | null;
  /** The furthest WAL this node has: on a standby the greater of received and replayed, on a primary its current LSN. */
  receivedLsn: string | null;
  timeline: number | null;
  senderHost: string | null;
  /** Who repmgr's metadata on this node has as active primary. */
  repmgrPrimaries: string[];
  /** `repmgr service pause` is in effect on this node. */
  repmgrdPaused: boolean;
  /** When this PostgreSQL started (ms since the epoch). */
  startedAt: number;
}

/** What one node says of itself, on a connection as the repmgr role (status, restart decision, fencing watchdog). */
export async function readProbe(client: pg.Client): Promise<Probe> {
  const r = await client.query(`
    SELECT pg_is_in_recovery() AS recovery,
           (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn,
           (CASE WHEN pg_is_in_recovery() THEN greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) ELSE pg_current_wal_lsn() END)::text AS received_lsn,
           -- a standby's timeline is that of the newest WAL it holds: its walreceiver's, else the highest
           -- timeline among its WAL segment files (named by timeline first); the last restartpoint's
           -- timeline alone lags behind a promotion it already streamed
           CASE WHEN pg_is_in_recovery()
                THEN greatest((SELECT received_tli FROM pg_stat_wal_receiver WHERE received_tli > 0),
                              (SELECT max(('x' || substr(name, 1, 8))::bit(32)::int) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'),
                              (SELECT timeline_id FROM pg_control_checkpoint()))
                ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline,
           (SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming') AS sender_host,
           (SELECT coalesce(array_agg(node_name::text ORDER BY node_id), '{}') FROM repmgr.nodes WHERE type = 'primary' AND active) AS repmgr_primaries,
           repmgr.repmgrd_is_paused() AS repmgrd_paused,
           (extract(epoch FROM pg_postmaster_start_time()) * 1000)::bigint AS started_at`);
  const row = r.rows[0];
  return {
    recovery: row.recovery,
    lsn: row.lsn,
    receivedLsn: row.received_lsn,
    timeline: row.timeline === null ? null : Number(row.timeline),
    senderHost: row.sender_host,
    repmgrPrimaries: row.repmgr_primaries ?? [],
    repmgrdPaused: row.repmgrd_paused === true,
    startedAt: Number(row.started_at),
  };
}

/** What one node says of itself, over its consumer port as the repmgr role. */
export async function probe(config: ClusterConfig, node: ClusterConfig['nodes'][number]): Promise<Probe> {
  const client = await connectAs(config, node, { user: 'repmgr', timeoutMs: 2000 });
  try {
    return await readProbe(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Assemble node statuses from what each node answered (pure). */
export function decideTopology(
  config: ClusterConfig,
  answers: Map<string, { probe?: Probe; error?: Error & { code?: string }; pid: number | null }>,
): NodeStatus[] {
  const primaries = config.nodes.filter((n) => answers.get(n.name)?.probe && !answers.get(n.name)!.probe!.recovery);
  const primaryLsn = primaries.length === 1 ? lsnToBytes(answers.get(primaries[0].name)!.probe!.lsn) : null;
  return config.nodes.map((n) => {
    const a = answers.get(n.name)!;
    const base = { name: n.name, host: n.host, port: config.postgres.port, pid: a.pid, ...(a.probe ? { repmgrdPaused: a.probe.repmgrdPaused } : {}) };
    if (!a.probe) {
      const refused = ['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ETIMEDOUT', '57P03'].includes(a.error?.code ?? '') || /timeout|terminated/i.test(a.error?.message ?? '');
      return { ...base, role: refused ? 'down' : 'unknown', upstream: null, timeline: null, lagBytes: null, lsn: null, error: a.error?.message };
    }
    const p = a.probe;
    if (!p.recovery) {
      // two nodes out of recovery: neither can be trusted as "the" primary
      const role: Role = primaries.length === 1 ? 'primary' : 'unknown';
      return { ...base, role, upstream: null, timeline: p.timeline, lagBytes: role === 'primary' ? 0 : null, lsn: p.receivedLsn, ...(role === 'unknown' ? { error: `${primaries.length} nodes accept writes` } : {}) };
    }
    const upstream = config.nodes.find((u) => u.host === p.senderHost)?.name ?? null;
    const lsn = lsnToBytes(p.lsn);
    const lag = primaryLsn !== null && lsn !== null ? primaryLsn - lsn : null;
    return { ...base, role: 'standby', upstream, timeline: p.timeline, lagBytes: lag === null ? null : Number(lag < 0n ? 0n : lag), lsn: p.receivedLsn };
  });
}

/**
 * The promotion rule's view of the cluster (src/roles/promotion.ts), from node statuses (pure). A node
 * whose role is unknown but that answered (two writable nodes) counts as writable: never promote beside it.
 */
export function nodesSeen(nodes: NodeStatus[]): NodeSeen[] {
  return nodes.map((n) => {
    const answered = nodeAnswered(n);
    return { name: n.name, reachable: answered, writable: answered ? n.role !== 'standby' : undefined, timeline: n.timeline, lsn: lsnToBytes(n.lsn) };
  });
}

/** PostgreSQL on the node answered the probe (a node refused for two writable nodes answered too) (pure). */
export const nodeAnswered = (n: NodeStatus): boolean => n.role === 'primary' || n.role === 'standby' || (n.role === 'unknown' && n.timeline !== null);

/** The one writable node, when a majority of the cluster answered; null otherwise (pure). */
export function majorityPrimary(nodes: NodeStatus[]): NodeStatus | null {
  const writable = nodes.filter((n) => n.role === 'primary');
  return writable.length === 1 && hasMajority(nodes.filter(nodeAnswered).length, nodes.length) ? writable[0] : null;
}

/** The restart decision's view of every other node (reachable or not, and what it says). */
export async function peerViews(config: ClusterConfig, self: string): Promise<PeerView[]> {
  return Promise.all(
    config.nodes
      .filter((n) => n.name !== self)
      .map(async (n): Promise<PeerView> => {
        try {
          const p = await probe(config, n);
          return { name: n.name, reachable: true, inRecovery: p.recovery, timeline: p.timeline, repmgrPrimaries: p.repmgrPrimaries };
        } catch (err) {
          return { name: n.name, reachable: false, error: (err as Error).message };
        }
      }),
  );
}

export async function readNodes(config: ClusterConfig): Promise<NodeStatus[]> {
  const answers = new Map<string, { probe?: Probe; error?: Error & { code?: string }; pid: number | null }>();
  await Promise.all(
    config.nodes.map(async (n) => {
      // the postmaster's pid is only known where its data directory is readable (local mode, the node's own host)
      const pid = postmasterStatus(nodePaths(config, n).dataDir)?.pid ?? null;
      try {
        answers.set(n.name, { probe: await probe(config, n), pid });
      } catch (err) {
        answers.set(n.name, { error: err as Error, pid });
      }
    }),
  );
  return decideTopology(config, answers);
}

/** The one node that takes writes now, or null (none, or more than one answers as writable). */
export async function currentPrimary(config: ClusterConfig): Promise<string | null> {
  return (await readNodes(config)).find((n) => n.role === 'primary')?.name ?? null;
}

/** Ask the barman worker (it runs on the barman host) for the backup list; bounded wait. */
export async function readBackups(config: ClusterConfig, timeoutMs = 15_000): Promise<BarmanStatus> {
  const connection = redisConnection(config.redis);
  const name = barmanQueueName(config.cluster);
  const queue = new Queue(name, { connection });
  const eventsConnection = redisConnection(config.redis);
  const events = new QueueEvents(name, { connection: eventsConnection });
  try {
    await events.waitUntilReady();
    const job = await queue.add('barman-list-backups', { cluster: config.cluster }, { removeOnComplete: true, removeOnFail: true, attempts: 1 });
    const result = (await job.waitUntilFinished(events, timeoutMs)) as { backups: BackupInfo[] };
    const done = result.backups.filter((b) => b.status === 'DONE');
    const last = done[done.length - 1];
    const checks = (await queue.getJobs(['completed'], 0, 50)).filter((j) => j?.name === 'barman-check' && typeof j.returnvalue?.ok === 'boolean');
    checks.sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0));
    const lastCheck = checks[0]?.returnvalue ?? null;
    return {
      backups: result.backups.map((b) => ({ id: b.id, status: b.status, endTime: b.endTime })),
      lastBackup: last ? { id: last.id, endTime: last.endTime, sizeBytes: last.sizeBytes } : null,
      nextBackupAt: await nextBackupAt(queue),
      lastCheck,
      walStreaming: lastCheck ? !lastCheck.failed.some((l: string) => /receive-wal running|PostgreSQL streaming/.test(l)) : null,
    };
  } catch (err) {
    return { backups: [], error: `barman worker did not answer: ${(err as Error).message}` };
  } finally {
    await queue.close();
    await events.close();
    // BullMQ leaves connections it was given open
    connection.disconnect();
    eventsConnection.disconnect();
  }
}

/** A promise, or `fallback` after `ms` (Redis down must not hang a status read). */
export function within<T>(p: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  return Promise.race([p, new Promise<T>((resolve) => setTimeout(() => resolve(fallback()), ms).unref())]);
}

export async function readStatus(config: ClusterConfig, opts: { barmanTimeoutMs?: number } = {}): Promise<ClusterStatus> {
  const timeout = opts.barmanTimeoutMs ?? 15_000;
  const [nodes, barman] = await Promise.all([
    readNodes(config),
    within(readBackups(config, timeout), timeout + 2000, () => ({ backups: [], error: `no answer from Redis or the barman worker within ${timeout / 1000} s` })),
  ]);
  const connection = redisConnection(config.redis);
  const queues = new Map<string, Queue>();
  const queue = (name: string) => queues.get(name) ?? queues.set(name, new Queue(name, { connection })).get(name)!;
  try {
    return { cluster: config.cluster, nodes, barman, automaticFailover: await readFailoverState(config, connection, queue, nodes, 5000) };
  } finally {
    for (const q of queues.values()) await q.close();
    connection.disconnect();
  }
}

export function formatStatusTable(s: ClusterStatus): string {
  const head = ['NODE', 'HOST', 'PORT', 'ROLE', 'UPSTREAM', 'TIMELINE', 'LAG BYTES', 'PID'];
  const rows = s.nodes.map((n) => [n.name, n.host, String(n.port), n.role, n.upstream ?? '-', String(n.timeline ?? '-'), String(n.lagBytes ?? '-'), String(n.pid ?? '-')]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const out = [`cluster ${s.cluster}`, line(head), ...rows.map(line), ''];
  if (s.automaticFailover?.paused) out.push(s.automaticFailover.message, '');
  if (s.barman.error) out.push(`barman: ${s.barman.error}`);
  else if (!s.barman.backups.length) out.push('barman: no backups yet');
  else for (const b of s.barman.backups) out.push(`barman backup ${b.id}  ${b.status}  ended ${b.endTime ?? '-'}`);
  if (s.barman.nextBackupAt) out.push(`barman next backup ${s.barman.nextBackupAt}`);
  if (s.barman.lastCheck) out.push(`barman check ${s.barman.lastCheck.ok ? 'OK' : `FAILED: ${s.barman.lastCheck.failed.join('; ')}`} at ${s.barman.lastCheck.at}`);
  return out.join('\n');
}
