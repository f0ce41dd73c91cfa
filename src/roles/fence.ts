// The fencing watchdog's decisions (pure): a writable primary that has not heard from a majority of
// the cluster for `afterMs` stops, before any standby can have been promoted; once fenced, it asks
// to rejoin when it sees a majority again. The node worker (workers/fence-watchdog.ts) observes and acts.
import { answered, hasMajority, majorityOf, nodeOf, type ClusterView, type NodeView } from './view.js';

/** Time allowed for `pg_ctl stop -m immediate` to end every backend, in the timing budget. */
export const FENCE_STOP_MS = 500;
/** libpq's connect_timeout in repmgr's conninfo (seconds; src/repmgr/render.ts uses it): how long a standby's ping of a cut-off primary can take. */
export const REPMGR_CONNECT_TIMEOUT_SECS = 2;

export interface FenceTimings {
  afterMs: number;
  checkEveryMs: number;
}
export interface RepmgrTimings {
  monitorIntervalSecs: number;
  reconnectAttempts: number;
  reconnectIntervalSecs: number;
}

/**
 * How soon, and how late, a standby's repmgrd can promote after it lost the primary. Earliest: the
 * primary refuses connections at once (a crash), so the only waits are the sleeps between
 * reconnect attempts (repmgr does not sleep after the last). Latest: each ping waits out
 * connect_timeout, plus the monitor interval, the visibility consensus (2 intervals) and 5 s for the
 * promote command.
 */
export function promotionWindowMs(r: RepmgrTimings): { earliestMs: number; latestMs: number } {
  return {
    earliestMs: (r.reconnectAttempts - 1) * r.reconnectIntervalSecs * 1000,
    latestMs: (3 * r.monitorIntervalSecs + r.reconnectAttempts * (r.reconnectIntervalSecs + REPMGR_CONNECT_TIMEOUT_SECS)) * 1000 + 5000,
  };
}

/** The latest a cut-off primary is stopped, counted from the cut: no answer for afterMs, the next check, the stop. */
export const fencedWithinMs = (f: FenceTimings) => f.afterMs + f.checkEveryMs + FENCE_STOP_MS;

/** Why these timings cannot keep one writable primary, or null when they can (checked with the config). */
export function fenceBudgetProblem(f: FenceTimings, r: RepmgrTimings): string | null {
  const fencedBy = fencedWithinMs(f);
  const { earliestMs } = promotionWindowMs(r);
  if (fencedBy < earliestMs) return null;
  return (
    `a cut-off primary stops up to ${fencedBy} ms after the cut (afterMs ${f.afterMs} + checkEveryMs ${f.checkEveryMs} + ${FENCE_STOP_MS} ms to stop), ` +
    `but a standby can be promoted ${earliestMs} ms after losing it ((repmgr.reconnectAttempts ${r.reconnectAttempts} - 1) × repmgr.reconnectIntervalSecs ${r.reconnectIntervalSecs} s): ` +
    `lower fencing.afterMs or fencing.checkEveryMs, or raise repmgr.reconnectAttempts or repmgr.reconnectIntervalSecs (failover gets slower), or set fencing.enabled: false (two writable primaries possible on a network cut)`
  );
}

export interface WatchdogState {
  /** The PostgreSQL run (its start time) during which a majority was seen: only then can losing it mean a cut. */
  armedFor: number | null;
  /** When this watchdog stopped PostgreSQL; null when it has not (or has asked to rejoin since). */
  fencedAt: number | null;
  /** Since when a majority has been seen without a break (while fenced). */
  majoritySince: number | null;
}

export const initialWatchdogState = (): WatchdogState => ({ armedFor: null, fencedAt: null, majoritySince: null });

export interface WatchdogSettings extends FenceTimings {
  /** While fenced with no primary in sight: how long a majority must be seen before rejoining (the standbys' election window). */
  settleMs: number;
  /**
   * The earliest a standby can be promoted after losing this node (promotionWindowMs().earliestMs):
   * a busy machine's hold never lasts past it, less a check and the stop.
   */
  earliestPromotionMs: number;
}

export interface Observation {
  now: number;
  /** The node this watchdog runs for. */
  self: string;
  /**
   * The running view: each peer's latest answer, however old (answeredAt null: never); this node's own
   * entry answeredAt null when its latest probe got no answer. For this node, `repmgrdPaused` and
   * `startedAt` are read too (arming holds for one run of PostgreSQL).
   */
  view: ClusterView;
  /** Since when the watchdog's checks have run on time: a stalled process has not looked, and must not fence on stale answers. */
  steadySince: number;
}

export type WatchdogAction = { action: 'none'; reason: string } | { action: 'fence'; reason: string } | { action: 'rejoin'; reason: string };

/**
 * How recent the probe that this node's own PostgreSQL answered must be for silent peers to count as
 * a cut (ms): one check interval (the probe of the previous check) plus half of afterMs for its answer.
 */
export const ownAnswerWithinMs = (f: FenceTimings) => f.checkEveryMs + f.afterMs / 2;

/**
 * How long after it last saw a majority a busy node may hold off fencing (ms): until the earliest
 * promotion less one check and the stop, so that the stop still comes first; never less than afterMs.
 */
export const busyHoldEndsMs = (s: FenceTimings & { earliestPromotionMs: number }) => Math.max(s.afterMs, s.earliestPromotionMs - s.checkEveryMs - FENCE_STOP_MS);

/**
 * When node `self` last saw a majority of `view`'s cluster (itself + enough peers, each counted at its
 * latest answer); null when it never did (pure). The running-view form of view.ts's hasMajority.
 */
export function majoritySeenAt(view: ClusterView, self: string): number | null {
  const peers = view.nodes.filter((n) => n.name !== self);
  const needed = majorityOf(view.nodes.length) - 1; // peers needed beside itself
  if (needed === 0) return Number.POSITIVE_INFINITY;
  const times = peers.map((p) => p.answeredAt).filter((t): t is number => t !== null).sort((a, b) => b - a);
  return times.length >= needed ? times[needed - 1] : null;
}

/** One check of the watchdog: the next state and what to do (pure). */
export function watchdogStep(state: WatchdogState, o: Observation, s: WatchdogSettings): { state: WatchdogState; decision: WatchdogAction } {
  const fresh = (t: number | null) => t !== null && o.now - t <= s.afterMs;
  const me = nodeOf(o.view, o.self);
  const self: (NodeView & { answeredAt: number }) | null = me.answeredAt !== null ? { ...me, answeredAt: me.answeredAt } : null;
  const peers = o.view.nodes.filter((n) => n.name !== o.self);
  const seenAt = majoritySeenAt(o.view, o.self);
  const majority = fresh(seenAt);
  const seen = peers.filter((p) => fresh(p.answeredAt));
  const newerPrimary = seen.find((p) => p.writable && (p.timeline ?? 0) > (self?.timeline ?? Number.POSITIVE_INFINITY));
  const none = (reason: string, next: Partial<WatchdogState> = {}) => ({ state: { ...state, ...next }, decision: { action: 'none' as const, reason } });

  if (state.fencedAt !== null) {
    if (self?.writable) return none('fenced, yet PostgreSQL accepts writes (started again by hand, or the stop failed): watching it as a primary again', { fencedAt: null, majoritySince: null });
    if (!majority) return none(`fenced; sees ${seen.length} of ${peers.length} peers, no majority: stays down`, { majoritySince: null });
    const since = state.majoritySince ?? o.now;
    const primary = seen.find((p) => p.writable);
    if (primary) return { state: { ...state, fencedAt: null, majoritySince: null }, decision: { action: 'rejoin', reason: `fenced; sees a majority again and ${primary.name} is the primary: rejoin as its standby` } };
    if (o.now - since >= s.settleMs) {
      return { state: { ...state, fencedAt: null, majoritySince: null }, decision: { action: 'rejoin', reason: `fenced; has seen a majority for ${o.now - since} ms and no peer was promoted: the restart decision runs` } };
    }
    return none(`fenced; sees a majority, no primary yet: waits ${s.settleMs} ms for the standbys' election before the restart decision`, { majoritySince: since });
  }

  if (!self || !self.writable) return none(self ? 'a standby: nothing to fence' : 'PostgreSQL does not answer: nothing to fence');
  // a newer timeline that takes writes means a failover happened: this node is the stale one
  if (newerPrimary) {
    return { state: { ...state, fencedAt: o.now, majoritySince: null }, decision: { action: 'fence', reason: `${newerPrimary.name} accepts writes on timeline ${newerPrimary.timeline}, newer than this node's ${self.timeline}` } };
  }
  // arming holds for one run of PostgreSQL: without its start time there is nothing to arm for
  if (self.startedAt === undefined) return none('its PostgreSQL start time is unknown: not armed');
  if (majority) return none('sees a majority', { armedFor: self.startedAt });
  if (state.armedFor !== self.startedAt) return none('not armed: no majority seen since PostgreSQL started (first start, restore, re-clone)');
  if (self.repmgrdPaused) return none('repmgrd is paused: no standby promotes by itself, an operation is in progress');
  if (o.now - o.steadySince < s.afterMs) return none('checks were late (the process stalled): looking again before fencing');
  // Peers silent while this node's own PostgreSQL answers at once is a cut; peers silent while it
  // answers slowly too is more likely a busy machine (CPU starvation), which must not fence a healthy
  // primary. A busy primary may be cut off as well, and its standbys may then promote: the hold ends
  // in time to stop before the earliest promotion, whatever the machine's state.
  const ownLateMs = o.now - self.answeredAt;
  const holdUntil = busyHoldEndsMs(s);
  if (ownLateMs > ownAnswerWithinMs(s) && seenAt !== null && o.now - seenAt < holdUntil) {
    return none(`own PostgreSQL answered last to a probe sent ${ownLateMs} ms ago (more than ${ownAnswerWithinMs(s)} ms): this machine is busy, not cut off; looking again before fencing (at most until ${holdUntil} ms without a majority)`);
  }
  const lost = seenAt === null ? 'never' : `${o.now - seenAt} ms ago`;
  return {
    state: { ...state, fencedAt: o.now, majoritySince: null },
    decision: { action: 'fence', reason: `writable, but last saw a majority of the ${o.view.nodes.length} nodes ${lost} (fencing.afterMs ${s.afterMs}); a standby may be promoted` },
  };
}

/**
 * repmgrd's own fence (child_nodes_disconnect_command, the backstop for when the node worker and its
 * watchdog are down) runs once a primary has had no streaming standby for repmgr.fenceAfterSecs, and
 * not again until a standby reconnects (repmgr's docs, "Monitoring standby disconnections on the
 * primary node"). No streaming standby is not isolation: standbys that answer but cannot follow yet
 * (a timeline to rewind, failing input 8) leave a primary that a majority still sees, and stopping it
 * leaves the cluster with no primary at all. So the backstop watches (`pgha fence-backstop`) and
 * stops PostgreSQL only when no majority answers for BACKSTOP_MISSES_TO_FENCE reads in a row, or at
 * once when a node writes on a newer timeline.
 */
export const BACKSTOP_MISSES_TO_FENCE = 3;

export type BackstopAction = { action: 'fence' | 'watch' | 'done'; reason: string };

/** What the backstop carries from one read to the next. */
export interface BackstopState {
  /** Reads in a row that saw no majority. */
  misses: number;
  /** Reads in a row that saw a standby streaming from this node. */
  childReads: number;
}

/**
 * One read of the backstop (pure). `running`: this node's postmaster is alive (from its data
 * directory, not from the probe: a slow answer is no proof of a stopped server).
 */
export function backstopStep(state: BackstopState, self: string, view: ClusterView, running: boolean): { state: BackstopState; decision: BackstopAction } {
  const me = nodeOf(view, self);
  const done = (reason: string) => ({ state: { misses: 0, childReads: 0 }, decision: { action: 'done' as const, reason } });
  const watch = (next: BackstopState, reason: string) => ({ state: next, decision: { action: 'watch' as const, reason } });
  if (!running) return done('PostgreSQL does not run: nothing to fence');
  // slow or hung: it acknowledges nothing meanwhile; what the others say decides once it answers
  if (!answered(me)) return watch(state, `its own PostgreSQL did not answer (${me.error ?? 'no answer'}): looking again`);
  if (!me.writable) return done('a standby now: nothing to fence');
  // a node on a newer timeline that accepts writes or streams from someone: a promotion happened
  // after this node's (a standby of the new primary may be all it reaches of that side). One that
  // streams from no one may only hold stray WAL of a history that lost
  const newer = view.nodes.find((n) => n.name !== self && answered(n) && (n.writable || n.upstream != null) && (n.timeline ?? 0) > (me.timeline ?? Number.POSITIVE_INFINITY));
  if (newer) return { state: { misses: 0, childReads: 0 }, decision: { action: 'fence', reason: `${newer.name} is on timeline ${newer.timeline}, newer than this node's ${me.timeline}${newer.writable ? ' and accepts writes' : ''}` } };
  const child = view.nodes.find((n) => n.name !== self && answered(n) && n.upstream === self);
  // two reads in a row: a standby that cannot follow shows "streaming" for a few ms per retry
  if (child && state.childReads + 1 >= 2) return done(`${child.name} streams from it again: no fence`);
  const childReads = child ? state.childReads + 1 : 0;
  const seen = view.nodes.filter(answered).length;
  if (hasMajority(view)) {
    return watch({ misses: 0, childReads }, `no standby streams from it, but ${seen} of ${view.nodes.length} nodes answer, a majority: not fenced (a standby that cannot follow yet is brought back by its keeper)`);
  }
  const m = state.misses + 1;
  const reason = `only ${seen} of ${view.nodes.length} nodes answer (${majorityOf(view.nodes.length)} needed), ${m} read${m > 1 ? 's' : ''} in a row`;
  if (m >= BACKSTOP_MISSES_TO_FENCE) return { state: { misses: m, childReads }, decision: { action: 'fence', reason } };
  return watch({ misses: m, childReads }, `${reason}: looking again`);
}
