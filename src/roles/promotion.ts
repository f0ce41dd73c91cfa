// The promotion rule (pure): which standby may become the primary. Asked by `pgha failover --to`
// (and POST /api/flows), by the promote step at the moment it runs, and by repmgrd before it promotes
// (failover_validation_command). With quorum replication every acknowledged commit is on a majority
// of the nodes; any majority shares a node with it, so the most advanced node of a reachable majority
// holds every acknowledged commit. Promoting any other node, or with no majority in sight, can lose one.
import { answered, hasMajority, majorityOf, writableNodes, type ClusterView, type NodeView } from './view.js';
import { busyHoldEndsMs, FENCE_STOP_MS, fencedWithinMs, ownAnswerWithinMs, promotionWindowMs } from './fence.js';
import type { ClusterConfig } from '../config/schema.js';

export type PromotionDecision =
  | { ok: true; reason: string; forced: boolean }
  | { ok: false; reason: string; forceable: boolean; ahead: { name: string; bytes: bigint | null; timeline: number | null }[]; retryable?: boolean };

const fmt = (b: bigint | null) => (b === null ? 'more' : `${b}`);

/** (timeline, lsn) order: a newer timeline is ahead whatever its LSN (it saw a promotion the other did not). */
function aheadOf(a: NodeView, b: NodeView): boolean {
  const ta = a.timeline ?? 0;
  const tb = b.timeline ?? 0;
  if (ta !== tb) return ta > tb;
  return (a.lsn ?? -1n) > (b.lsn ?? -1n);
}

/**
 * May `candidate` be promoted now? `view` has every node of the cluster (the candidate included).
 * Refused, never forceable: the candidate is not a reachable standby, or a node still accepts writes.
 * Refused unless `force`: fewer than a majority answer (it cannot know what it lacks), or a reachable
 * node is ahead of it (the bytes it would lose are named). With `force` the reason says what may be lost.
 */
export function decidePromotion(candidate: string, view: ClusterView, opts: { force?: boolean } = {}): PromotionDecision {
  const nodes = view.nodes;
  const clusterSize = nodes.length;
  const me = nodes.find((n) => n.name === candidate);
  const refuse = (reason: string, forceable: boolean, ahead: { name: string; bytes: bigint | null; timeline: number | null }[] = []): PromotionDecision => ({ ok: false, reason, forceable, ahead });
  if (!me || !answered(me)) return refuse(`${candidate} does not answer: only a running standby can be promoted`, false);
  if (me.writable) return refuse(`${candidate} already accepts writes`, false);
  const reachable = nodes.filter(answered);
  const writable = writableNodes(view);
  if (writable.length) return refuse(`${writable.map((n) => n.name).join(', ')} still accepts writes: promoting ${candidate} would make two primaries (for a planned change use switchover)`, false);

  const problems: string[] = [];
  const ahead = reachable
    .filter((n) => n.name !== candidate && aheadOf(n, me))
    .map((n) => ({
      name: n.name,
      timeline: n.timeline ?? null,
      bytes: (n.timeline ?? 0) === (me.timeline ?? 0) && n.lsn != null && me.lsn != null ? n.lsn - me.lsn : null,
    }));
  if (ahead.length) {
    problems.push(
      ahead
        .map((a) => (a.bytes !== null ? `${a.name} has ${fmt(a.bytes)} bytes of WAL that ${candidate} lacks` : `${a.name} is on timeline ${a.timeline}, ahead of ${candidate}'s ${me.timeline ?? '?'}`))
        .join('; ') + `: promoting ${candidate} would lose them (promote ${ahead[0].name} instead)`,
    );
  }
  if (!hasMajority(view)) {
    const down = nodes.filter((n) => !answered(n)).map((n) => n.name);
    problems.push(`only ${reachable.length} of ${clusterSize} nodes answer (${majorityOf(clusterSize)} needed; down: ${down.join(', ') || 'none'}): ${candidate} cannot know whether a node that does not answer holds acknowledged commits it lacks`);
  }
  if (!problems.length) {
    return { ok: true, forced: false, reason: `${candidate} is the most advanced of the ${reachable.length} of ${clusterSize} nodes that answer (timeline ${me.timeline ?? '?'}), a majority: it holds every acknowledged commit` };
  }
  if (opts.force) return { ok: true, forced: true, reason: `forced: ${problems.join('; ')}` };
  return refuse(problems.join('; '), true, ahead);
}

/**
 * How long after losing its upstream a standby's repmgrd has surely either held its election or
 * given up (seconds): its reconnect attempts, two monitoring turns, and the election itself with the
 * promotion rule's check (ELECTION_SECS).
 */
export const ELECTION_SECS = 10;
export const repmgrdGaveUpAfterSecs = (r: { reconnectAttempts: number; reconnectIntervalSecs: number; monitorIntervalSecs: number }) =>
  r.reconnectAttempts * r.reconnectIntervalSecs + 2 * r.monitorIntervalSecs + ELECTION_SECS;

export type ElectionDecision = { action: 'none'; reason: string } | { action: 'wait'; reason: string } | { action: 'promote'; node: string; reason: string };

/**
 * After repmgrd is unpaused: does pgha hold the election itself (pure)? A standby's repmgrd that saw
 * its primary fail while paused goes into "degraded monitoring": from then on it only follows a
 * primary that appears and never elects one, even once unpaused, and a repmgrd restarted without its
 * upstream refuses to start (repmgr's monitor_streaming_standby; its docs, "degraded monitoring"
 * mode). So once no node takes writes, every node that does not answer refused the connection (no
 * PostgreSQL runs there: a silent one may be a cut-off primary, never fenced while paused), and
 * every answering standby's repmgrd has gone `gaveUpSecs` without its upstream (an election of its
 * own would be over by then), the most advanced standby that the promotion rule accepts
 * (decidePromotion: a majority answers, none is ahead) is promoted by pgha's failover flow; ties go
 * to the first in the config. A standby whose repmgrd may still be electing (or does not say) means wait.
 */
export function electAfterResume(view: ClusterView, gaveUpSecs: number): ElectionDecision {
  const writable = writableNodes(view);
  if (writable.length) return { action: 'none', reason: `${writable.map((n) => n.name).join(', ')} takes writes: no election` };
  // a silent node may be a primary cut off from the others: paused, its watchdog never fenced it,
  // and an unpause that cannot reach it leaves it so. Only a host that refuses the connection (no
  // PostgreSQL runs there) is known not to take writes
  const silent = view.nodes.filter((n) => !answered(n) && !n.refused);
  if (silent.length) {
    return {
      action: 'none',
      reason: `${silent.map((n) => n.name).join(', ')} does not answer (no refusal either): it may be a primary cut off from the others, never fenced while paused; pgha does not elect. Make sure it is stopped, then pgha failover --to a standby`,
    };
  }
  const standbys = view.nodes.filter((n) => answered(n) && !n.writable);
  if (!standbys.length) return { action: 'none', reason: 'no standby answers: nothing to promote (a node that starts again decides its role by itself)' };
  // unknown (-1: its repmgrd restarted, or none runs yet) may be an election starting: wait
  const electing = standbys.filter((n) => (n.upstreamLastSeenSecs ?? -1) < gaveUpSecs);
  if (electing.length) {
    const said = (n: NodeView) => ((n.upstreamLastSeenSecs ?? -1) < 0 ? `${n.name}'s repmgrd has not said when it last saw its upstream` : `${n.name}'s repmgrd saw its upstream ${n.upstreamLastSeenSecs} s ago`);
    return { action: 'wait', reason: `${electing.map(said).join(', ')}: its own election may be under way (${gaveUpSecs} s)` };
  }
  const accepted = standbys.filter((n) => decidePromotion(n.name, view).ok);
  if (!accepted.length) return { action: 'none', reason: `no primary, and the promotion rule accepts no standby: ${decidePromotion(standbys[0]!.name, view).reason}` };
  // decidePromotion refuses a node any reachable node is ahead of: the accepted ones are equally advanced
  const node = accepted[0]!;
  return { action: 'promote', node: node.name, reason: `no primary, and no repmgrd elects one (each saw its upstream gone while paused): ${decidePromotion(node.name, view).reason}` };
}

/**
 * How the node workers' failover detector is tuned (ms unless said). workers/fence-watchdog.ts
 * derives it from the config: silentMs from the fencing budget, refusedMs one check.
 */
export interface DetectorSettings {
  /**
   * A primary whose probes get no answer at all (a cut, a host that died or froze: no refusal) is
   * given up this long after the first unanswered probe was sent. The cut happened before that probe's
   * answer was due, so by then a cut-off primary has fenced itself (detectorSettings).
   */
  silentMs: number;
  /** A primary whose host refuses the connection (no PostgreSQL listens there: it cannot take writes) is given up once it has refused this long. */
  refusedMs: number;
  /**
   * Answers older than this are not "now": this node's own PostgreSQL and the majority must have
   * answered this recently. A busy machine answers late: the detector waits, repmgrd stays the backstop.
   */
  freshMs: number;
  /**
   * A sibling that still streams from the primary must have had its repmgrd go this long (seconds)
   * without seeing it: the primary may be lost only to this node (repmgr's primary_visibility_consensus
   * asks the same of a sibling, two monitor intervals).
   */
  consensusSecs: number;
  /** repmgr priority of each node (priority 0: never promoted, repmgr's rule); absent: 100. */
  priorities: Record<string, number>;
}

/**
 * Settings of the failover detector from the config (pure). Answers count as now for as long as the
 * watchdog trusts its own (freshMs = ownAnswerWithinMs). A silent primary: the cut came no later than
 * the first unanswered probe's send time plus the primary's answer time (freshMs, or its latest
 * answer's when slower: decideFailover adds that), and a cut-off primary has stopped by the latest
 * its watchdog fences (fencedWithinMs, or later when its own PostgreSQL answers slowly and it holds
 * off until busyHoldEndsMs), so silentMs = freshMs + that (2750 ms by default). A refusing one after
 * one check. A sibling's repmgrd must have missed the primary two monitor intervals (repmgr's
 * primary_visibility_consensus).
 */
export function detectorSettings(config: Pick<ClusterConfig, 'fencing' | 'repmgr' | 'nodes'>): DetectorSettings {
  const f = config.fencing;
  return {
    // the latest a cut-off primary stops: a busy one holds off fencing until busyHoldEndsMs, then a check and the stop
    silentMs: ownAnswerWithinMs(f) + Math.max(fencedWithinMs(f), busyHoldEndsMs({ ...f, earliestPromotionMs: promotionWindowMs(config.repmgr).earliestMs }) + f.checkEveryMs + FENCE_STOP_MS),
    refusedMs: f.checkEveryMs,
    freshMs: ownAnswerWithinMs(f),
    consensusSecs: 2 * config.repmgr.monitorIntervalSecs,
    priorities: Object.fromEntries(config.nodes.map((n) => [n.name, n.priority])),
  };
}

/** What a standby's node worker sees of the cluster at `now`, from its probes every fencing.checkEveryMs. */
export interface DetectorObservation {
  now: number;
  /** The standby this worker runs for. */
  self: string;
  /** The running view: each node's latest answer, however old (answeredAt: when that probe was sent; null: never). */
  view: ClusterView;
  /** Per node: when the first probe left unanswered since its latest answer was sent (one still out counts); null or absent: its latest probe was answered. */
  silentSince: Record<string, number | null>;
  /** Per node: since when every probe was refused without a break; null or absent: its latest probe was not refused. */
  refusedSince: Record<string, number | null>;
  /** Per node: how long its latest answer took (ms); a slow primary may have been cut that much after the probe left. */
  latencyMs?: Record<string, number | null>;
  /**
   * Who holds automatic failover paused in Redis (maintenance mode, a flow's pause: each flow that
   * restarts nodes records one, since a restarted PostgreSQL forgets repmgr's pause); absent: not read
   * yet. The worker reads it only once the rule would promote, and asks again with it.
   */
  heldBy?: string[];
}

export type DetectorDecision =
  | { action: 'none'; reason: string }
  | { action: 'wait'; reason: string }
  | { action: 'promote'; node: string; primary: string; timeline: number | null; followers: string[]; reason: string };

/**
 * The node workers' failover detector (pure): has the primary been lost, and is this node the one to
 * promote? It goes faster than repmgrd, which waits out libpq's connect_timeout (2 s at least) on each
 * of its reconnect attempts, and it decides under the one promotion rule (decidePromotion):
 * - the primary is the one node whose latest answer said writable; no node answered writable now;
 * - it refused connections for refusedMs (nothing listens: it takes no writes), or gave no answer at
 *   all for silentMs (a cut-off primary has fenced itself by then);
 * - this node's own PostgreSQL answered within freshMs (a busy machine is not a dead primary), no
 *   node has repmgrd paused and nobody holds failover paused in Redis (an operation or maintenance:
 *   a node it restarted forgets repmgr's pause), and every sibling that still
 *   streams from the primary had its repmgrd go consensusSecs without seeing it;
 * - among the standbys that answered within freshMs (a majority, with this node), the promotion rule
 *   accepts this one, with priority above 0, and no accepted one has a higher priority (ties: the
 *   first in the config). Every standby's detector picks the same one from the same answers.
 * 'wait' and 'none' both mean do nothing now: 'wait' is expected to change within seconds.
 */
export function decideFailover(o: DetectorObservation, s: DetectorSettings): DetectorDecision {
  const { now, view } = o;
  const fresh = (n: NodeView) => n.answeredAt !== null && now - n.answeredAt <= s.freshMs;
  const me = view.nodes.find((n) => n.name === o.self);
  if (!me || !fresh(me)) return { action: 'none', reason: `${o.self}'s own PostgreSQL has not answered within ${s.freshMs} ms (busy or down): repmgrd decides` };
  if (me.writable) return { action: 'none', reason: `${o.self} is the primary: nothing to detect` };
  const paused = view.nodes.filter((n) => fresh(n) && n.repmgrdPaused);
  if (paused.length) return { action: 'none', reason: `repmgrd is paused on ${paused.map((n) => n.name).join(', ')}: an operation or maintenance holds failover` };
  if (o.heldBy?.length) return { action: 'none', reason: `automatic failover is held by ${o.heldBy.join(', ')}: no promotion meanwhile` };
  // the primary is the node last seen writable on the newest timeline (an old primary still down keeps its last answer)
  const seenWritable = view.nodes.filter((n) => n.name !== o.self && answered(n) && n.writable);
  const newestTl = Math.max(0, ...seenWritable.map((n) => n.timeline ?? 0));
  const newest = seenWritable.filter((n) => (n.timeline ?? 0) === newestTl);
  if (newest.length !== 1) return { action: 'none', reason: newest.length ? `${newest.map((n) => n.name).join(' and ')} were each last seen writable on timeline ${newestTl}: the keepers and fencing sort that out` : 'no primary seen yet' };
  const primary = newest[0]!;
  // an answer after the first silence or refusal would mean it was back: both count from its latest answer at the earliest
  const after = (t: number | null) => (t === null ? null : Math.max(t, primary.answeredAt ?? t));
  const since = after(o.silentSince[primary.name] ?? null);
  if (since === null) return { action: 'none', reason: `${primary.name} is the primary and answers` };
  const refusedSince = after(o.refusedSince[primary.name] ?? null);
  // a refusal proves nothing listens there now, whatever it answered before it died (a killed
  // postmaster's orphan backend may still answer a kept connection); silentMs is longer than freshMs,
  // so a silent primary's last answer is never fresh by then
  const refused = refusedSince !== null && now - refusedSince >= s.refusedMs;
  const silentFor = now - since;
  // a probe still out for less than an answer may take is no silence yet
  if (refusedSince === null && silentFor < s.freshMs) return { action: 'none', reason: `${primary.name} is the primary and answers` };
  // its watchdog does not fence while repmgrd is paused: silent since then, it may be cut off and writable
  if (!refused && primary.repmgrdPaused) {
    return { action: 'none', reason: `${primary.name} (the primary) went silent while repmgrd was paused, when its watchdog does not fence: it may be cut off and still take writes; only a refusal proves it stopped (else make sure it is stopped, then pgha failover --to a standby)` };
  }
  // a primary that answered slowly may have been cut that much after the probe left
  const silentNeeded = s.silentMs + Math.max(0, (o.latencyMs?.[primary.name] ?? 0) - s.freshMs);
  if (!refused && silentFor < silentNeeded) {
    return { action: 'wait', reason: `${primary.name} (the primary) has not answered for ${silentFor} ms${refusedSince !== null ? ' (refused)' : ''}: gives it ${refusedSince !== null ? s.refusedMs : silentNeeded} ms` };
  }
  const lost = refused ? `refused connections for ${now - refusedSince!} ms` : `not answered for ${silentFor} ms`;
  // the view now: answers older than freshMs count as silent; the lost primary refused or said nothing
  const nowView: ClusterView = {
    nodes: view.nodes.map((n) => (fresh(n) && n.name !== primary.name ? n : { name: n.name, answeredAt: null, down: true, ...(n.name === primary.name && refused ? { refused: true } : {}) })),
  };
  const seeing = nowView.nodes.filter((n) => n.name !== o.self && answered(n) && n.upstream === primary.name && (n.upstreamLastSeenSecs ?? -1) < s.consensusSecs);
  if (seeing.length) {
    const said = (n: NodeView) => ((n.upstreamLastSeenSecs ?? -1) < 0 ? `${n.name} still streams from it (its repmgrd does not say when it last saw it)` : `${n.name} still streams from it and its repmgrd saw it ${n.upstreamLastSeenSecs} s ago`);
    return { action: 'wait', reason: `${primary.name} ${lost}, but ${seeing.map(said).join('; ')}: it may be lost to ${o.self} only` };
  }
  const priority = (name: string) => s.priorities[name] ?? 100;
  const accepted = nowView.nodes.filter((n) => answered(n) && !n.writable && priority(n.name) > 0 && decidePromotion(n.name, nowView).ok);
  if (!accepted.length) {
    const d = decidePromotion(o.self, nowView);
    return { action: 'none', reason: `${primary.name} ${lost}; the promotion rule accepts no standby now: ${d.ok ? `${o.self} has priority 0` : d.reason}` };
  }
  const best = Math.max(...accepted.map((n) => priority(n.name)));
  const candidate = accepted.find((n) => priority(n.name) === best)!;
  if (candidate.name !== o.self) return { action: 'none', reason: `${primary.name} ${lost}: ${candidate.name} is the candidate; its worker promotes it` };
  const followers = nowView.nodes.filter((n) => n.name !== o.self && answered(n) && !n.writable).map((n) => n.name);
  return { action: 'promote', node: o.self, primary: primary.name, timeline: me.timeline ?? null, followers, reason: `${primary.name} ${lost}: ${decidePromotion(o.self, nowView).reason}` };
}
