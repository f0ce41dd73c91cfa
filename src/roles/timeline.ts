// Which timeline number a promotion takes (pure). Two histories must never share a number: pg_rewind,
// repmgr and a standby's walreceiver decide by comparing timeline numbers and the history files named
// by them, so a second "timeline 4" with another fork point makes a node that holds the first one
// follow the second without a rewind (its data silently diverges), and puts two files of one name in
// barman's archive.
//
// PostgreSQL numbers a promotion one above the newest timeline whose history file it finds (in pg_wal,
// or through restore_command) counting up from its own (findNewestTimeLine; "The new timeline ID is
// chosen as one greater than the largest timeline ID found", PostgreSQL docs, 26.3.5 Timelines). A
// promoted node that died before anyone streamed from it leaves its number known to no other node, so
// the next promotion would take it again. pgha therefore makes the number a quorum decision, as
// consensus protocols do with ballot numbers: before promoting, the candidate reserves a number above
// every number any node of a majority knows (its timeline, its history files, its reservations), and
// records it on that majority; any later majority shares a node with it and so sees the reservation.
// The candidate then gets placeholder history files for the numbers between, so that PostgreSQL
// itself counts up to the reserved number.
import { answered, hasMajority, nodeOf, type ClusterView, type NodeView } from './view.js';

/** A timeline's history file name, as PostgreSQL names it in pg_wal and barman in its archive: 8 hex digits + .history. */
export const historyFileName = (timeline: number) => `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;

/** The timeline a history file name stands for, or null for any other name. */
export function historyFileTimeline(name: string): number | null {
  const m = /^([0-9A-F]{8})\.history$/.exec(name);
  return m ? parseInt(m[1], 16) : null;
}

/** The custom setting (postgresql.auto.conf, by ALTER SYSTEM) that holds a node's reservation. */
export const RESERVED_TIMELINE_SETTING = 'pgha.reserved_timeline';

/** The highest timeline number `n` knows to be taken: its own, a history file it holds, a reservation recorded on it; 0 when unknown. */
export const highestTimelineOf = (n: NodeView): number => Math.max(n.timeline ?? 0, n.timelineTaken ?? 0);

export interface TimelinePlan {
  /** The number the promotion will take. */
  timeline: number;
  /** Numbers between the candidate's timeline and `timeline` that need a placeholder history file on the candidate where it has none. */
  placeholders: number[];
  /** The node whose knowledge set the number (for the log), or null when it is the candidate's own timeline + 1. */
  because: string | null;
}

/**
 * The timeline a promotion of `candidate` takes: one above the highest number any node of `view`
 * knows (highestTimelineOf; a node that did not answer carries none), the candidate included. Throws when the candidate did not answer or its
 * timeline is unknown (a caller's mistake: the promotion rule refuses such a candidate first).
 */
export function planTimeline(candidate: string, view: ClusterView): TimelinePlan {
  const me = nodeOf(view, candidate);
  if (!answered(me) || me.timeline == null) throw new Error(`${candidate}: timeline unknown, no timeline can be planned`);
  let top = me.timeline;
  let because: string | null = null;
  // every node that carries a number counts, also one that answered an earlier read of the same
  // decision and not the last (its knowledge does not go away with its answer)
  for (const n of view.nodes) {
    const h = highestTimelineOf(n);
    if (h > top) {
      top = h;
      because = n.name;
    }
  }
  const timeline = top + 1;
  const placeholders: number[] = [];
  for (let t = me.timeline + 1; t < timeline; t++) placeholders.push(t);
  return { timeline, placeholders, because };
}

/**
 * Is a reservation recorded on enough nodes? `recordedOn` holds the nodes where it was written (the
 * candidate included). A majority is needed for a later majority to see it (the one majority test,
 * hasMajority); a forced promotion goes on with fewer and says so.
 */
export function reservationHolds(view: ClusterView, recordedOn: ReadonlySet<string>): boolean {
  return hasMajority(view, (n) => recordedOn.has(n.name));
}

/** Words every placeholder history file carries, so that pgha can tell its own placeholders from real history. */
export const PLACEHOLDER_MARK = 'reserved by pgha';

/**
 * The content of a placeholder history file for timeline `placeholder`: one fork line off the timeline
 * below it at 0/0, so that it is never a history a standby can adopt: one in recovery that finds it
 * (rescanLatestTimeLine) logs that it forked before its recovery point and keeps its target; at
 * promotion only its existence counts (findNewestTimeLine), and the new timeline's history names the
 * real parent. Off the timeline below, not off timeline 1: repmgr's follow and rejoin read the
 * history of the node's timeline + 1 looking for its own timeline there, and give up without it
 * (with it, rejoin's pg_rewind runs, which reads only real history). See danglingPlaceholders for
 * the one case it harms.
 */
export function placeholderHistory(placeholder: number): string {
  return `${placeholder - 1}\t0/0\tplaceholder: timeline ${placeholder} is ${PLACEHOLDER_MARK}, taken by another history\n`;
}

/**
 * A history file pgha wrote as a placeholder (pure): it carries the mark, or it is no real history —
 * PostgreSQL writes history files whole (a temporary file renamed) and never with a fork at 0/0, so a
 * file without one real fork line is a placeholder cut short by a crash.
 */
export function isPlaceholderHistory(text: string): boolean {
  if (text.includes(PLACEHOLDER_MARK)) return true;
  return !text.split('\n').some((l) => /^\s*\d+\s+[0-9A-Fa-f]+\/[0-9A-Fa-f]+/.test(l) && !/^\s*\d+\s+0+\/0+(\s|$)/.test(l));
}

/**
 * Placeholder history files no real history is above: left by a promotion that did not happen after
 * all. PostgreSQL would start with the newest one as its recovery target (recovery_target_timeline
 * latest) and refuse it ("requested timeline is not a child of this server's history"), so they are
 * removed before PostgreSQL starts. `files` maps each history file's timeline to its content.
 */
export function danglingPlaceholders(files: ReadonlyMap<number, string>): number[] {
  const real = [...files].filter(([, text]) => !isPlaceholderHistory(text)).map(([t]) => t);
  const top = real.length ? Math.max(...real) : 0;
  return [...files].filter(([t, text]) => t > top && isPlaceholderHistory(text)).map(([t]) => t).sort((a, b) => a - b);
}

/** The reservation in a postgresql.auto.conf text (the highest when written more than once), or null. */
export function reservedTimelineIn(autoConf: string): number | null {
  let top: number | null = null;
  for (const m of autoConf.matchAll(/^\s*pgha\.reserved_timeline\s*=\s*'?(\d+)'?\s*$/gm)) top = Math.max(top ?? 0, Number(m[1]));
  return top;
}

/** `autoConf` with its reservation set to `timeline` (replaced, or appended), in ALTER SYSTEM's format. */
export function withReservedTimeline(autoConf: string, timeline: number): string {
  const kept = autoConf.split('\n').filter((l) => !/^\s*pgha\.reserved_timeline\s*=/.test(l));
  while (kept.length && kept[kept.length - 1] === '') kept.pop();
  return [...kept, `${RESERVED_TIMELINE_SETTING} = '${timeline}'`].join('\n') + '\n';
}
