// Barman follows the primary from what is read, not only from events: a promotion whose event was
// lost (Redis down), a follow-up flow that failed, or many failovers in a row must still end with
// barman streaming from the current primary and a backup on its timeline. Pure; the barman worker's
// barman-reconcile step reads the inputs and starts the repair as a flow (visible in Bull Board).

export interface BarmanView {
  /** The node barman's server file points at; null when barman is not configured yet. */
  pointsAt: string | null;
  /** The one writable node, answered while a majority of the cluster answered; null otherwise. */
  primary: { name: string; timeline: number } | null;
  /** Timelines of the DONE backups (from each one's first WAL file name). */
  backupTimelines: number[];
  /** barman steps queued or running (other than the reconcile itself): an operation is under way. */
  busy: string[];
  /** Failed lines of the last `barman check` run after the server file last changed; [] when none. */
  checkFailed: string[];
}

export type BarmanRepair =
  | { action: 'none'; reason: string }
  | { action: 'switch'; primary: string; reset: boolean; reason: string }
  | { action: 'backup'; primary: string; reason: string };

/** "0000000300000000000000A1" -> 3; null when not a WAL file name (pure). */
export function walTimeline(walFile: string | null | undefined): number | null {
  if (!walFile || !/^[0-9A-F]{24}$/.test(walFile)) return null;
  return parseInt(walFile.slice(0, 8), 16);
}

/** What barman needs now, if anything (pure). */
export function decideBarmanRepair(v: BarmanView): BarmanRepair {
  if (v.pointsAt === null) return { action: 'none', reason: 'barman is not configured yet (the first start configures it)' };
  if (v.busy.length) return { action: 'none', reason: `${[...new Set(v.busy)].join(', ')} in progress` };
  if (!v.primary) return { action: 'none', reason: 'no single writable primary answers with a majority: nothing to follow yet' };
  const p = v.primary;
  if (v.pointsAt !== p.name) return { action: 'switch', primary: p.name, reset: true, reason: `barman streams from ${v.pointsAt}, but ${p.name} is the primary (timeline ${p.timeline})` };
  const streaming = v.checkFailed.filter((l) => /receive-wal running|replication slot|PostgreSQL streaming|WAL archive/.test(l));
  // the same primary: its WAL position is barman's too, so no reset (a reset skips WAL and leaves a gap
  // in the archive); cron and a WAL switch start streaming again, create_slot = auto makes a lost slot
  if (streaming.length) return { action: 'switch', primary: p.name, reset: false, reason: `barman check failed on ${p.name}: ${streaming.join('; ')}` };
  if (!v.backupTimelines.some((t) => t >= p.timeline)) {
    return { action: 'backup', primary: p.name, reason: `no DONE backup on timeline ${p.timeline} (backups on ${[...new Set(v.backupTimelines)].join(', ') || 'none'})` };
  }
  return { action: 'none', reason: `barman streams from ${p.name} and holds a backup on its timeline ${p.timeline}` };
}

/** The first repair of a primary and timeline waits for no one; a later one this long after the one before (ms). */
export const REPAIR_FIRST_RETRY_MS = 60_000;
export const REPAIR_MAX_RETRY_MS = 10 * 60_000;

/**
 * How long after repair number `n` (1 = the first) of the same primary and timeline the next may start
 * (pure): 1 min, then doubling, at most 10 min. A repair whose backup was skipped or failed (the new
 * primary not streaming yet, a backup of another flow running) is tried again soon; one that keeps
 * failing does not start a flow every 30 s.
 */
export const repairRetryAfterMs = (n: number): number => Math.min(REPAIR_FIRST_RETRY_MS * 2 ** Math.max(0, n - 1), REPAIR_MAX_RETRY_MS);
