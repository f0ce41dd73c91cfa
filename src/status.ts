// The status of the cluster as `pgha status`, the API and the page show it: each node's row (from the
// cluster view read live, src/probe.ts), barman's backups (asked of the barman worker), and whether
// automatic failover is paused.
import { bytesToLsn } from './postgres/lsn.js';
import { Queue } from 'bullmq';
import type { ClusterConfig } from './config/schema.js';
import { nodePaths } from './config/paths.js';
import { postmasterStatus } from './postgres/actions.js';
import { runBarmanJob } from './flows/jobs.js';
import { barmanQueueName } from './queues.js';
import type { Redis } from 'ioredis';
import { readFailoverPauses, readFlowRecord, readMaintenance, type FailoverPauseRecord } from './flows/registry.js';
import { describeHolder, holdsFailover, KEEPER_EVERY_MS, type MaintenanceRecord, type PauseHolder } from './roles/maintenance.js';
import { flowState, readStepStates } from './flows/run.js';
import { describeRedis, redisConnection, redisProblem } from './redis.js';
import { answered, lagBytesOf, roleOf, type ClusterView, type Role } from './roles/view.js';
import { readClusterView } from './probe.js';
import type { BackupInfo } from './barman/actions.js';
import { nextBackupAt } from './barman/schedules.js';

export type { Role };

/** One row of the status table, the API and the page: a node as the cluster view says, with its address and postmaster pid. */
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
  /** Parameters changed in its files that take effect at its next restart (pg_settings.pending_restart); undefined when it did not answer. */
  pendingRestart?: string[];
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
  /** The operator's maintenance mode (pgha pause): who, why, since when; null when off. */
  maintenance: MaintenanceRecord | null;
  /** One line for people: what is paused, by whom, since when, and what resumes it. */
  message: string;
}

export interface ClusterStatus {
  cluster: string;
  nodes: NodeStatus[];
  barman: BarmanStatus;
  automaticFailover?: FailoverState;
  /** Redis (the queues, barman's worker, the pause records) answered; when not, why. */
  redis?: { ok: boolean; error?: string };
}

/**
 * Automatic failover's state from the nodes' answers, the recorded pause and that flow's steps, and
 * the operator's maintenance mode (pure). A flow that failed while repmgrd was paused is named with
 * its failed step: retrying that step (Bull Board's retry) finishes the flow, whose last step resumes
 * repmgrd. Maintenance mode is said first: it outlasts any flow's pause.
 */
export function failoverState(
  nodes: NodeStatus[],
  pause: FailoverPauseRecord | null,
  flow: { state: string; step: string | null } | null,
  pauseKnown = true,
  maintenance: MaintenanceRecord | null = null,
): FailoverState {
  const pausedOn = nodes.filter((n) => n.repmgrdPaused).map((n) => n.name);
  const held = !pause || flow?.state === 'completed' ? null : { flowId: pause.flowId, since: pause.at, state: flow?.state ?? null, step: flow?.step ?? null };
  if (maintenance) {
    const who = `maintenance mode since ${maintenance.since} by ${maintenance.by}${maintenance.reason ? ` (${maintenance.reason})` : ''}`;
    const also = held ? `; flow ${held.flowId} holds the pause too` : '';
    const message = pausedOn.length
      ? `automatic failover PAUSED for ${who} (repmgrd paused on ${pausedOn.join(', ')}): no standby is promoted by itself and no primary is fenced for lack of standbys; pgha resume ends it${also}`
      : `${who}, but no node answers with repmgrd paused yet: each node's worker pauses it again within ${KEEPER_EVERY_MS / 1000} s of its PostgreSQL answering${also}`;
    return { paused: pausedOn.length > 0, pausedOn, by: held, maintenance, message };
  }
  if (!pausedOn.length) return { paused: false, pausedOn, by: null, maintenance: null, message: 'automatic failover on' };
  const head = `automatic failover PAUSED (repmgrd paused on ${pausedOn.join(', ')})`;
  // a flow that completed is not what holds the pause now (a restore ends without a resume step)
  if (!held) {
    const who = pauseKnown ? 'not by a pgha flow' : 'by whom is unknown (Redis did not answer)';
    return { paused: true, pausedOn, by: null, maintenance: null, message: `${head}, ${who}: no standby is promoted by itself until repmgrd is unpaused (pgha resume --force)` };
  }
  const what =
    flow?.state === 'failed'
      ? `by flow ${held.flowId}, which FAILED at step ${flow.step ?? '?'}: retry that step in the dashboard (Bull Board) to finish the flow, whose last step resumes failover`
      : `by flow ${held.flowId} (${flow ? `${flow.state}${flow.step ? `, at step ${flow.step}` : ''}` : 'its record is gone'})`;
  return { paused: true, pausedOn, by: held, maintenance: null, message: `${head} since ${held.since} ${what}; no standby is promoted by itself meanwhile` };
}

/**
 * Who holds repmgrd paused now, from Redis: the operator's maintenance mode and every flow that
 * recorded its own pause, each with its state; `pause` and `flow` are the one status names (the
 * newest flow that has not completed, else the newest), with the step it is at or failed at.
 */
export async function readPauseHolders(
  connection: Redis,
  cluster: string,
  queue: (name: string) => Queue,
): Promise<{ holders: PauseHolder[]; maintenance: MaintenanceRecord | null; pause: FailoverPauseRecord | null; flow: { state: string; step: string | null } | null }> {
  const [maintenance, pauses] = await Promise.all([readMaintenance(connection, cluster), readFailoverPauses(connection, cluster)]);
  const flows = await Promise.all(
    pauses.map(async (pause) => {
      const record = await readFlowRecord(connection, cluster, pause.flowId);
      if (!record) return { pause, flow: null };
      const states = await readStepStates(queue, record.flowId, record.steps);
      const at = states.find((st) => st.state === 'failed' || st.state === 'missing') ?? states.find((st) => st.state !== 'completed');
      return { pause, flow: { state: flowState(states) as string, step: at?.step ?? null } };
    }),
  );
  const holders: PauseHolder[] = [];
  if (maintenance) holders.push({ kind: 'maintenance', record: maintenance });
  for (const f of flows) holders.push({ kind: 'flow', flowId: f.pause.flowId, state: f.flow?.state ?? null });
  const shown = flows.find((f) => f.flow?.state !== 'completed') ?? flows[0];
  return { holders, maintenance, pause: shown?.pause ?? null, flow: shown?.flow ?? null };
}

/**
 * Who holds automatic failover paused now, each described for a person (maintenance mode, flows
 * that have not completed; holdsFailover), read on `connection` with queues of its own.
 */
export async function failoverHeldBy(connection: Redis, cluster: string): Promise<string[]> {
  const queues = new Map<string, Queue>();
  const queue = (name: string) => queues.get(name) ?? queues.set(name, new Queue(name, { connection })).get(name)!;
  try {
    return (await readPauseHolders(connection, cluster, queue)).holders.filter(holdsFailover).map(describeHolder);
  } finally {
    for (const q of queues.values()) await q.close().catch(() => {});
  }
}

/** failoverState read live: the pause record and its flow's steps from Redis; within timeoutMs, else (or when Redis fails) who paused is unknown. */
export function readFailoverState(config: ClusterConfig, connection: Redis, queue: (name: string) => Queue, nodes: NodeStatus[], timeoutMs: number): Promise<FailoverState> {
  const unknown = () => failoverState(nodes, null, null, false);
  return within(readFailoverRecord(config, connection, queue, nodes).catch(unknown), timeoutMs, unknown);
}

async function readFailoverRecord(config: ClusterConfig, connection: Redis, queue: (name: string) => Queue, nodes: NodeStatus[]): Promise<FailoverState> {
  const { pause, flow, maintenance } = await readPauseHolders(connection, config.cluster, queue);
  return failoverState(nodes, pause, flow, true, maintenance);
}

/** The table's rows from the cluster view (pure); `pids`: each postmaster's pid where this host can read it. */
export function nodeStatuses(config: ClusterConfig, view: ClusterView, pids: Map<string, number | null> = new Map()): NodeStatus[] {
  const writers = view.nodes.filter((n) => answered(n) && n.writable).length;
  return config.nodes.map((c) => {
    const n = view.nodes.find((x) => x.name === c.name)!;
    const role = roleOf(view, n.name);
    return {
      name: n.name,
      host: c.host,
      port: config.postgres.port,
      role,
      upstream: answered(n) ? (n.upstream ?? null) : null,
      timeline: answered(n) ? (n.timeline ?? null) : null,
      lagBytes: lagBytesOf(view, n.name),
      lsn: answered(n) && n.lsn != null ? bytesToLsn(n.lsn) : null,
      pid: pids.get(n.name) ?? null,
      ...(answered(n) ? { repmgrdPaused: n.repmgrdPaused ?? false, pendingRestart: n.pendingRestart ?? [] } : {}),
      ...(n.error ? { error: n.error } : role === 'unknown' ? { error: `${writers} nodes accept writes` } : {}),
    };
  });
}

/** The status table's rows, read now (the postmaster's pid only where its data directory is readable: local mode, the node's own host). */
export async function readNodes(config: ClusterConfig): Promise<NodeStatus[]> {
  const view = await readClusterView(config);
  return nodeStatuses(config, view, new Map(config.nodes.map((n) => [n.name, postmasterStatus(nodePaths(config, n).dataDir)?.pid ?? null])));
}

/** The one node that takes writes now, or null (none, or more than one answers as writable). */
export async function currentPrimary(config: ClusterConfig): Promise<string | null> {
  return (await readNodes(config)).find((n) => n.role === 'primary')?.name ?? null;
}

/** Ask the barman worker (it runs on the barman host) for the backup list; bounded wait. */
export async function readBackups(config: ClusterConfig, timeoutMs = 15_000): Promise<BarmanStatus> {
  const connection = redisConnection(config.redis);
  const queue = new Queue(barmanQueueName(config.cluster), { connection });
  try {
    const result = await runBarmanJob<{ backups: BackupInfo[] }>(config, 'barman-list-backups', timeoutMs);
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
    // BullMQ leaves connections it was given open
    connection.disconnect();
  }
}

/** A promise, or `fallback` after `ms` (Redis down must not hang a status read). */
export function within<T>(p: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  return Promise.race([p, new Promise<T>((resolve) => setTimeout(() => resolve(fallback()), ms).unref())]);
}

export async function readStatus(config: ClusterConfig, opts: { barmanTimeoutMs?: number } = {}): Promise<ClusterStatus> {
  const timeout = opts.barmanTimeoutMs ?? 15_000;
  const down = await redisProblem(config.redis);
  if (down) {
    // the nodes are read live all the same; nothing that lives in Redis is waited for
    const nodes = await readNodes(config);
    const error = `Redis at ${describeRedis(config.redis)} does not answer (${down})`;
    return { cluster: config.cluster, nodes, barman: { backups: [], error }, automaticFailover: failoverState(nodes, null, null, false), redis: { ok: false, error } };
  }
  const [nodes, barman] = await Promise.all([
    readNodes(config),
    within(readBackups(config, timeout), timeout + 2000, () => ({ backups: [], error: `no answer from Redis or the barman worker within ${timeout / 1000} s` })),
  ]);
  const connection = redisConnection(config.redis);
  const queues = new Map<string, Queue>();
  const queue = (name: string) => queues.get(name) ?? queues.set(name, new Queue(name, { connection })).get(name)!;
  try {
    return { cluster: config.cluster, nodes, barman, automaticFailover: await readFailoverState(config, connection, queue, nodes, 5000), redis: { ok: true } };
  } finally {
    for (const q of queues.values()) await q.close();
    connection.disconnect();
  }
}
