// The promotion check with its one side effect, shared by repmgrd's failover_validation_command (the
// `validate-promotion` CLI command, run as postgres) and the promote step of `pgha failover`: read
// every node, apply the promotion rule (src/roles/promotion.ts), then detach every sibling that
// counts towards the majority from its upstream before saying yes.
//
// Why detach: the old primary may only be frozen (SIGSTOP, a paused VM, a long stall). Its standbys'
// walreceivers keep their TCP connection to it until wal_receiver_timeout, so when it resumes a
// standby that has not yet followed the new primary would confirm its commits, which the quorum
// then acknowledges, and the new primary never has them. A standby whose primary_conninfo is empty
// streams from no one until `repmgr standby follow` points it at the new primary. Once a majority
// (the candidate and the detached siblings) streams from nothing, the nodes left to the old primary
// are fewer than its quorum needs: it cannot acknowledge another commit.
import pg from 'pg';
import pgPass from 'pgpass';
import { openClient, raiseReservation } from '../postgres/actions.js';
import { pollUntil } from '../wait.js';
import { nodeViewOf, readProbe } from '../probe.js';
import { decidePromotion, type PromotionDecision } from '../roles/promotion.js';
import { answered, type ClusterView, type NodeView } from '../roles/view.js';
import { highestTimelineOf, historyFileName, placeholderHistory, planTimeline, reservationHolds, type TimelinePlan } from '../roles/timeline.js';

export interface NodeAddress {
  name: string;
  host: string;
}

/** How to reach a node as the repmgr role; may throw (the node counts as not answering). */
export type Connect = (node: NodeAddress) => Promise<pg.Client>;

/** "node1=127.0.0.11,node2=127.0.0.12" (the hook's --nodes) → list; throws on a malformed entry. */
export function parseNodeList(s: string): NodeAddress[] {
  return s.split(',').map((e) => {
    const m = /^([A-Za-z0-9_-]+)=(.+)$/.exec(e.trim());
    if (!m) throw new Error(`--nodes: "${e}" is not NAME=HOST`);
    return { name: m[1], host: m[2] };
  });
}

/** A Connect that reads the repmgr role's password from a libpq passfile (the hook has no pgha.yaml). */
export function passfileConnect(port: number, passfile: string, timeoutMs: number): Connect {
  return async (n) => {
    process.env.PGPASSFILE = passfile;
    const password = await new Promise<string | undefined>((resolve) => pgPass({ host: n.host, port, database: 'repmgr', user: 'repmgr' }, resolve));
    return openClient({ host: n.host, port, user: 'repmgr', database: 'repmgr', password, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  };
}

async function withNode<T>(connect: Connect, n: NodeAddress, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(n);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Every node as the promotion rule sees it, read in parallel; a node that fails to answer is unreachable. */
export async function readView(nodes: NodeAddress[], connect: Connect): Promise<ClusterView> {
  const sentAt = Date.now();
  return {
    nodes: await Promise.all(
      nodes.map(async (n): Promise<NodeView> => {
        try {
          return nodeViewOf(nodes, n.name, { probe: await withNode(connect, n, readProbe) }, sentAt);
        } catch (err) {
          return nodeViewOf(nodes, n.name, { error: err as Error }, sentAt);
        }
      }),
    ),
  };
}

/**
 * Stop a standby's WAL receiver and keep it stopped: primary_conninfo = '' and a reload (PostgreSQL
 * 13+ stops the walreceiver when it changes), then wait until no walreceiver runs. `repmgr standby
 * follow` later writes the new primary's conninfo. Throws when the node does not answer or its
 * walreceiver is still there after `timeoutMs`.
 */
export async function detachStandby(c: pg.Client, timeoutMs = 5000): Promise<void> {
  await c.query(`ALTER SYSTEM SET primary_conninfo = ''`);
  await c.query('SELECT pg_reload_conf()');
  await pollUntil('its walreceiver stopped', async () => (await c.query('SELECT count(*)::int AS n FROM pg_stat_wal_receiver WHERE pid IS NOT NULL')).rows[0].n === 0, {
    timeoutMs,
    everyMs: 50,
    onTimeout: () => new Error(`its walreceiver still runs ${timeoutMs} ms after primary_conninfo was emptied`),
  });
}

export interface PromotionCheck {
  candidate: string;
  /** Every node of the cluster, the candidate included. */
  nodes: NodeAddress[];
  connect: Connect;
  force?: boolean;
  log?: (line: string) => void;
  /**
   * Claim this automatic failover (claimFailover, keyed by the candidate's timeline) before anything
   * is changed: resolves to the claimant that holds it when another does (no promotion then; the
   * caller may retry), null when this caller holds it or the claim could not be asked (Redis down:
   * repmgrd alone decides then, as without the detector).
   */
  claim?: (timeline: number | null) => Promise<string | null>;
  /** Drop this caller's claim: the check refused after claiming (another candidate may go ahead). */
  release?: (timeline: number | null) => Promise<void>;
}

/**
 * The promotion rule, then (when it allows) every reachable sibling detached from its upstream, then
 * the rule again on what was read after that, counting only the siblings that were detached: a
 * sibling that received more meanwhile makes it refuse (the election runs again and picks it). The
 * returned decision's reason names the detached nodes. Never throws for a node that does not answer.
 */
export async function checkPromotion(o: PromotionCheck): Promise<PromotionDecision & { timeline?: number }> {
  const seen = await readView(o.nodes, o.connect);
  const first = decidePromotion(o.candidate, seen, { force: o.force });
  if (!first.ok) return first;
  // the node workers' detector and repmgrd's election may both go for this failover: the first claim wins
  const claimedTimeline = seen.nodes.find((n) => n.name === o.candidate)?.timeline ?? null;
  const other = await o.claim?.(claimedTimeline);
  if (other) return { ok: false, forceable: false, retryable: true, ahead: [], reason: `this failover is already claimed by ${other}: no second promotion` };
  const d = await detachAndReserve(o, seen);
  if (!d.ok) await o.release?.(claimedTimeline);
  return d;
}

/** checkPromotion once the rule allowed and the failover is claimed: detach, check again, reserve. */
async function detachAndReserve(o: PromotionCheck, seen: ClusterView): Promise<PromotionDecision & { timeline?: number }> {
  // only siblings that answered as standbys: one that did not answer (a frozen node takes the whole
  // timeout again) counts as unreachable below whatever it says then
  const answeredStandby = new Set(seen.nodes.filter((s) => answered(s) && !s.writable).map((s) => s.name));
  const siblings = o.nodes.filter((n) => n.name !== o.candidate && answeredStandby.has(n.name));
  const detached = new Set<string>();
  await Promise.all(
    siblings.map(async (n) => {
      try {
        const inRecovery = await withNode(o.connect, n, async (c) => {
          if (!(await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r) return false;
          await detachStandby(c);
          return true;
        });
        if (inRecovery) detached.add(n.name);
      } catch (err) {
        o.log?.(`${n.name} not detached from its upstream: ${(err as Error).message}`);
      }
    }),
  );
  const after: ClusterView = {
    nodes: (await readView(o.nodes, o.connect)).nodes.map((s) =>
      // a sibling that answers but was not detached may still confirm the old primary's commits: it does not count
      s.name === o.candidate || detached.has(s.name) || s.writable ? s : { name: s.name, answeredAt: null, error: 'not detached from its upstream' },
    ),
  };
  const second = decidePromotion(o.candidate, after, { force: o.force });
  const note = detached.size ? `; detached from their upstream: ${[...detached].join(', ')}` : '';
  if (!second.ok) return { ...second, reason: second.reason + note };
  // planned on what any read saw: a node that answered before the detach and not after still counts
  const known: ClusterView = {
    nodes: after.nodes.map((n) => {
      const before = seen.nodes.find((x) => x.name === n.name);
      return { ...n, timelineTaken: Math.max(n.timelineTaken ?? 0, before ? highestTimelineOf(before) : 0) || null };
    }),
  };
  const r = await reserveTimeline({ ...o, placeholdersOnlyIfHolds: !o.force }, known, [o.candidate, ...detached]);
  if (!r.holds && !o.force) {
    // not forceable: this is no judgement on the candidate but a write that did not reach enough
    // nodes (a lost connection, or another promotion reserving at the same moment); the election runs again
    return { ok: false, forceable: false, retryable: true, ahead: [], reason: `timeline ${r.plan.timeline} could be reserved only on ${[...r.recordedOn].join(', ') || 'no node'}, not on a majority (${r.said}): a later promotion might take the same number; retry${note}` };
  }
  return { ...second, reason: `${second.reason}${note}; ${r.said}`, timeline: r.plan.timeline };
}

/** A reservation made for a promotion: the plan, where it was recorded, whether that is a majority, and a line for the log. */
export interface Reservation {
  plan: TimelinePlan;
  recordedOn: Set<string>;
  holds: boolean;
  said: string;
}

const historyFile = (t: number) => `pg_wal/${historyFileName(t)}`;

/**
 * Reserve the timeline the promotion of `o.candidate` takes (src/roles/timeline.ts): the number is
 * planned from `view`, recorded (ALTER SYSTEM SET pgha.reserved_timeline; postgresql.auto.conf) on
 * every node of `on` that answers (the candidate and the siblings it counts on), and the candidate gets
 * placeholder history files for the numbers between its timeline and the reserved one, where it has
 * none, so that PostgreSQL's own count lands on it. Never throws for a node that does not answer (it
 * is left out of recordedOn); throws only when the candidate's placeholders cannot be written (the
 * promotion must not go on then; a retry can help).
 */
export async function reserveTimeline(
  o: { candidate: string; nodes: NodeAddress[]; connect: Connect; log?: (line: string) => void; placeholdersOnlyIfHolds?: boolean },
  view: ClusterView,
  on: string[],
): Promise<Reservation> {
  const plan = planTimeline(o.candidate, view);
  const recordedOn = new Set<string>();
  const higher: string[] = [];
  await Promise.all(
    o.nodes
      .filter((n) => on.includes(n.name))
      .map(async (n) => {
        try {
          const raised = await withNode(o.connect, n, (c) => raiseReservation(c, plan.timeline));
          if (raised === true) recordedOn.add(n.name);
          else higher.push(`${n.name} holds ${raised}`);
        } catch (err) {
          o.log?.(`timeline ${plan.timeline} not reserved on ${n.name}: ${(err as Error).message}`);
        }
      }),
  );
  const holdsNow = reservationHolds(view, recordedOn);
  const me = o.nodes.find((n) => n.name === o.candidate)!;
  // placeholders only for a promotion that goes on: left by a refused one, they would outlive it
  if (plan.placeholders.length && (holdsNow || !o.placeholdersOnlyIfHolds)) {
    await withNode(o.connect, me, async (c) => {
      // COPY writes to an absolute path only
      const dataDir = (await c.query(`SELECT current_setting('data_directory') AS d`)).rows[0].d as string;
      for (const t of plan.placeholders) {
        const exists = (await c.query(`SELECT pg_stat_file($1, true) IS NOT NULL AS e`, [historyFile(t)])).rows[0].e;
        if (exists) continue;
        // COPY's text format writes each row as its columns joined by tabs: the history file's format
        const [tli, lsn, reason] = placeholderHistory(t).trimEnd().split('\t');
        await c.query(`COPY (SELECT ${Number(tli)}, ${c.escapeLiteral(lsn)}, ${c.escapeLiteral(reason)}) TO ${c.escapeLiteral(`${dataDir}/${historyFile(t)}`)}`);
      }
    });
  }
  const holds = holdsNow;
  const why = plan.because ? ` (${plan.because} knows timeline ${plan.timeline - 1})` : '';
  const said = `timeline ${plan.timeline} reserved on ${[...recordedOn].join(', ') || 'no node'}${holds ? ', a majority' : ', NOT a majority'}${why}${higher.length ? ` (already higher: ${higher.join(', ')})` : ''}${plan.placeholders.length ? `; placeholder history files for ${plan.placeholders.join(', ')}` : ''}`;
  return { plan, recordedOn, holds, said };
}
