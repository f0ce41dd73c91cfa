// What each node says of itself (one SQL probe as the repmgr role) and the cluster view read from
// those answers, once per decision: the read side of src/roles/view.ts's ClusterView. Every rule on
// who may accept writes decides on what readClusterView returns (design.md, principle 6).
import type pg from 'pg';
import type { ClusterConfig } from './config/schema.js';
import { connectAs, dropClient } from './postgres/actions.js';
import { lsnToBytes } from './postgres/lsn.js';
import { PENDING_RESTART_COLUMNS, pendingRestartOf } from './postgres/parameters.js';
import type { ClusterView, NodeView } from './roles/view.js';

export interface Probe {
  recovery: boolean;
  lsn: string | null;
  /** The furthest WAL this node has: on a standby the greater of received and replayed, on a primary its current LSN. */
  receivedLsn: string | null;
  timeline: number | null;
  /** The highest timeline number among its history files and its reservation (pgha.reserved_timeline). */
  timelineTaken: number | null;
  senderHost: string | null;
  /** Who repmgr's metadata on this node has as active primary. */
  repmgrPrimaries: string[];
  /** `repmgr service pause` is in effect on this node. */
  repmgrdPaused: boolean;
  /** When this PostgreSQL started (ms since the epoch). */
  startedAt: number;
  /** Seconds since its repmgrd last saw its upstream (repmgr.get_upstream_last_seen); -1 when unknown (no repmgrd, or a primary). */
  upstreamLastSeenSecs?: number;
  /** Parameters changed in its files that wait for a restart (pg_settings.pending_restart). */
  pendingRestart?: string[];
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
           -- numbers taken by other histories: its history files, and the reservation a promotion recorded
           -- on it (pg_file_settings reads the files now: no reload needed after a direct write)
           greatest((SELECT max(('x' || substr(name, 1, 8))::bit(32)::int) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{8}\.history$'),
                    (SELECT max(setting::int) FROM pg_file_settings WHERE name = 'pgha.reserved_timeline' AND setting ~ '^[0-9]+$')) AS timeline_taken,
           (SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming') AS sender_host,
           (SELECT coalesce(array_agg(node_name::text ORDER BY node_id), '{}') FROM repmgr.nodes WHERE type = 'primary' AND active) AS repmgr_primaries,
           repmgr.repmgrd_is_paused() AS repmgrd_paused,
           repmgr.get_upstream_last_seen() AS upstream_last_seen,
           ${PENDING_RESTART_COLUMNS},
           (extract(epoch FROM pg_postmaster_start_time()) * 1000)::bigint AS started_at`);
  const row = r.rows[0];
  return {
    recovery: row.recovery,
    lsn: row.lsn,
    receivedLsn: row.received_lsn,
    timeline: row.timeline === null ? null : Number(row.timeline),
    timelineTaken: row.timeline_taken === null ? null : Number(row.timeline_taken),
    senderHost: row.sender_host,
    repmgrPrimaries: row.repmgr_primaries ?? [],
    repmgrdPaused: row.repmgrd_paused === true,
    startedAt: Number(row.started_at),
    upstreamLastSeenSecs: row.upstream_last_seen === null ? -1 : Number(row.upstream_last_seen),
    pendingRestart: pendingRestartOf(row),
  };
}

/** What one node says of itself, over its consumer port as the repmgr role. */
export async function probe(config: ClusterConfig, node: ClusterConfig['nodes'][number]): Promise<Probe> {
  // bounded end to end: a node that froze after the connection was made answers neither the query nor the goodbye
  const client = await connectAs(config, node, { user: 'repmgr', timeoutMs: 2000, queryTimeoutMs: 2000 });
  try {
    return await readProbe(client);
  } finally {
    dropClient(client);
  }
}

/** What a probe says of a node, or why it did not answer (a connection error, a timeout). */
export type Answer = { probe: Probe; error?: undefined } | { probe?: undefined; error: Error & { code?: string } };

/** Errors that mean nothing answers there (down, starting, or the network gave up), rather than a failure of another kind. */
const DOWN_CODES = ['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ETIMEDOUT', '57P03'];
/** Errors that prove no PostgreSQL listens there (the host itself said so), unlike a silence (a cut, a frozen host) that proves nothing. */
const REFUSED_CODES = ['ECONNREFUSED', 'ENOENT'];

/** The host answered that nothing listens there (a refusal, no socket file): no PostgreSQL runs there now. */
export const isRefusal = (err: unknown): boolean => REFUSED_CODES.includes((err as { code?: string } | null)?.code ?? '');

/** One node's answer, probed at `sentAt`, as the cluster view has it (pure). The upstream is named from the walreceiver's sender host among `nodes`. */
export function nodeViewOf(nodes: readonly { name: string; host: string }[], name: string, a: Answer, sentAt: number): NodeView {
  if (!a.probe) {
    const down = DOWN_CODES.includes(a.error.code ?? '') || /timeout|terminated/i.test(a.error.message);
    // the host answered that nothing listens there: no PostgreSQL runs, so none takes writes there
    const refused = isRefusal(a.error);
    return { name, answeredAt: null, error: a.error.message, down, ...(refused ? { refused } : {}) };
  }
  const p = a.probe;
  return {
    name,
    answeredAt: sentAt,
    writable: !p.recovery,
    timeline: p.timeline,
    timelineTaken: p.timelineTaken,
    lsn: lsnToBytes(p.receivedLsn),
    replayLsn: lsnToBytes(p.lsn),
    upstream: p.recovery ? (nodes.find((u) => u.host === p.senderHost)?.name ?? null) : null,
    repmgrPrimaries: p.repmgrPrimaries,
    repmgrdPaused: p.repmgrdPaused,
    startedAt: p.startedAt,
    ...(p.upstreamLastSeenSecs !== undefined ? { upstreamLastSeenSecs: p.upstreamLastSeenSecs } : {}),
    ...(p.pendingRestart !== undefined ? { pendingRestart: p.pendingRestart } : {}),
  };
}

/** The cluster view from every node's answer, all probed at `sentAt` (pure). */
export function clusterViewOf(config: ClusterConfig, answers: Map<string, Answer>, sentAt: number): ClusterView {
  return { nodes: config.nodes.map((n) => nodeViewOf(config.nodes, n.name, answers.get(n.name)!, sentAt)) };
}

/** Every node of the cluster, probed at once (each at most 2 s to connect and 2 s to answer); one read per decision. Never throws for a node that does not answer. */
export async function readClusterView(config: ClusterConfig): Promise<ClusterView> {
  const sentAt = Date.now();
  const answers = new Map<string, Answer>();
  await Promise.all(
    config.nodes.map(async (n) => {
      try {
        answers.set(n.name, { probe: await probe(config, n) });
      } catch (err) {
        answers.set(n.name, { error: err as Error });
      }
    }),
  );
  return clusterViewOf(config, answers, sentAt);
}
