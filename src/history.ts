// The cluster's history (`pgha history`, the API, the page): every timeline, when it began, which node
// was promoted, why (failover, switchover, restore) and the LSN at which it forked from its parent.
// The fork points come from PostgreSQL's own timeline history files (read on a node that answers);
// the when, who and why from the records pgha writes at each promotion (promote step, repmgrd's
// failover event, restore). A timeline PostgreSQL knows but pgha never recorded (a promotion by hand)
// is listed as such; a recorded one that is not an ancestor of the current timeline is a branch that
// was left (a restore to a point before it, or a primary that lost).
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { ClusterConfig } from './config/schema.js';
import { findNode } from './config/paths.js';
import { connectAs, dropClient } from './postgres/actions.js';
import { clusterTag } from './queues.js';
import { redisConnection } from './redis.js';
import { readClusterView } from './probe.js';
import { answered } from './roles/view.js';
import { historyFileTimeline, isPlaceholderHistory } from './roles/timeline.js';

export type PromotionWhy = 'failover' | 'switchover' | 'restore';

/** What pgha wrote when a node was promoted: the timeline it took, when (ISO), why, and the flow or event that did it. */
export interface PromotionRecord {
  timeline: number;
  node: string;
  at: string;
  why: PromotionWhy;
  /** Who decided: "repmgrd" for its automatic failover, else the flow id. */
  by: string;
}

/** One line of a timeline history file: the parent timeline, the LSN where the child forked off it, and PostgreSQL's reason text. */
export interface HistoryEntry {
  parent: number;
  forkLsn: string;
  reason: string;
}

/**
 * A timeline history file's lines (pure): "parentTLI<TAB>switchpoint<TAB>reason", oldest first; the
 * last line is the fork of the file's own timeline from its parent (PostgreSQL's docs, 26.3.5
 * Timelines; its writeTimeLineHistory). Comment and blank lines are skipped; a malformed line throws
 * (the file is not a history file: no retry helps).
 */
export function parseTimelineHistory(text: string): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})\s*(.*)$/.exec(line);
    if (!m) throw new Error(`not a timeline history line: ${JSON.stringify(line)}`);
    out.push({ parent: Number(m[1]), forkLsn: m[2]!.toUpperCase(), reason: m[3]!.trim() });
  }
  return out;
}

export interface TimelineRow {
  timeline: number;
  parent: number | null;
  /** Where it forked from its parent (LSN text); null for timeline 1 or when no history file says. */
  forkLsn: string | null;
  at: string | null;
  node: string | null;
  /** failover, switchover, restore; "first start" for timeline 1; null when pgha did not record it. */
  why: PromotionWhy | 'first start' | null;
  by: string | null;
  /** An ancestor of the current timeline (or the current one); false for a branch that was left. */
  current: boolean;
}

export interface ClusterHistory {
  /** The timeline the primary writes on now; null when no node answers as the primary. */
  currentTimeline: number | null;
  primary: string | null;
  timelines: TimelineRow[];
}

/**
 * The history (pure): the current timeline's history file gives its ancestors and their fork points;
 * the other files read (branches left) give theirs; the records add when, who and why. Rows come
 * oldest timeline first.
 */
export function buildHistory(o: { currentTimeline: number | null; primary: string | null; files: Map<number, HistoryEntry[]>; records: PromotionRecord[]; firstStartAt?: string | null }): ClusterHistory {
  const lineage = new Set<number>();
  if (o.currentTimeline !== null) {
    lineage.add(o.currentTimeline);
    for (const e of o.files.get(o.currentTimeline) ?? []) lineage.add(e.parent);
  }
  const numbers = new Set<number>([1, ...lineage, ...o.files.keys(), ...o.records.map((r) => r.timeline)]);
  const rows = [...numbers].sort((a, b) => a - b).map((t): TimelineRow => {
    const own = o.files.get(t)?.at(-1);
    const rec = o.records.find((r) => r.timeline === t);
    if (t === 1) return { timeline: 1, parent: null, forkLsn: null, at: o.firstStartAt ?? null, node: null, why: 'first start', by: null, current: o.currentTimeline === null || lineage.has(1) };
    return {
      timeline: t,
      parent: own?.parent ?? null,
      forkLsn: own?.forkLsn ?? null,
      at: rec?.at ?? null,
      node: rec?.node ?? null,
      why: rec?.why ?? null,
      by: rec?.by ?? null,
      current: lineage.has(t),
    };
  });
  return { currentTimeline: o.currentTimeline, primary: o.primary, timelines: rows };
}

/** The history as a table for a terminal (pure). */
export function formatHistory(h: ClusterHistory): string {
  const head = ['TIMELINE', 'PARENT', 'FORKED AT', 'WHEN', 'NODE', 'WHY', 'BY'];
  const rows = h.timelines.map((r) => [
    `${r.timeline}${r.timeline === h.currentTimeline ? ' *' : r.current ? '' : ' (left)'}`,
    r.parent === null ? '-' : String(r.parent),
    r.forkLsn ?? '-',
    r.at ?? '-',
    r.node ?? '-',
    r.why ?? 'not recorded by pgha',
    r.by ?? '-',
  ]);
  const widths = head.map((x, i) => Math.max(x.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const now = h.currentTimeline === null ? 'no node answers as the primary' : `${h.primary} writes on timeline ${h.currentTimeline} (*)`;
  return [line(head), ...rows.map(line), '', now].join('\n');
}

const historyKey = (cluster: string) => `pgha:${clusterTag(cluster)}:timelines`;
const firstStartKey = (cluster: string) => `pgha:${clusterTag(cluster)}:first-start-at`;

/** Record a promotion; a timeline already recorded keeps its first record (a re-run of the step adds nothing). */
export async function recordPromotion(connection: Redis, cluster: string, r: PromotionRecord): Promise<void> {
  await connection.hsetnx(historyKey(cluster), String(r.timeline), JSON.stringify(r));
}

/** Record when the cluster's first primary was made (timeline 1), once. */
export async function recordFirstStart(connection: Redis, cluster: string, at: string): Promise<void> {
  await connection.setnx(firstStartKey(cluster), at);
}

/** The timeline a writable node writes on now, from its current WAL file's name. */
export const CURRENT_TIMELINE_SQL = `SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS t`;

/** Every timeline history file in a node's pg_wal, parsed (needs superuser or pg_read_server_files: the repmgr role is superuser). */
async function readHistoryFiles(client: pg.Client): Promise<Map<number, HistoryEntry[]>> {
  const r = await client.query(`SELECT name, pg_read_file('pg_wal/' || name) AS text FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{8}\\.history$'`);
  const files = new Map<number, HistoryEntry[]>();
  for (const row of r.rows as { name: string; text: string }[]) {
    const t = historyFileTimeline(row.name);
    // a placeholder a timeline reservation wrote (src/roles/timeline.ts) holds no fork: skipped
    if (t !== null && !isPlaceholderHistory(row.text)) {
      try {
        files.set(t, parseTimelineHistory(row.text));
      } catch {
        // not a history PostgreSQL wrote: left out, its timeline still listed from the records
      }
    }
  }
  return files;
}

/**
 * The cluster's history read live: the primary's history files (else any node's that answers) and
 * pgha's records in Redis. Throws when Redis does not answer (a retry may help).
 */
export async function readHistory(config: ClusterConfig): Promise<ClusterHistory> {
  const view = await readClusterView(config);
  const up = view.nodes.filter(answered);
  const primary = up.find((n) => n.writable) ?? null;
  const files = new Map<number, HistoryEntry[]>();
  // the primary's files first; a standby may hold files of branches the primary never saw
  for (const n of [...(primary ? [primary] : []), ...up.filter((x) => x !== primary)]) {
    const client = await connectAs(config, findNode(config, n.name), { user: 'repmgr', timeoutMs: 2000, queryTimeoutMs: 5000 }).catch(() => null);
    if (!client) continue;
    try {
      for (const [t, e] of await readHistoryFiles(client)) if (!files.has(t)) files.set(t, e);
    } catch {
      // this node did not answer in time: the others' files and the records still say most
    } finally {
      dropClient(client);
    }
  }
  const connection = redisConnection(config.redis);
  try {
    const [raw, firstStartAt] = await Promise.all([connection.hvals(historyKey(config.cluster)), connection.get(firstStartKey(config.cluster))]);
    const records = raw.map((r) => JSON.parse(r) as PromotionRecord);
    return buildHistory({ currentTimeline: primary?.timeline ?? null, primary: primary?.name ?? null, files, records, firstStartAt });
  } finally {
    connection.disconnect();
  }
}
