// Who holds automatic failover paused, and whether a release may turn it back on. repmgrd's pause
// (`repmgr service pause`) is one switch in each node's shared memory, but several can want it off:
// the operator's maintenance mode (`pgha pause`) and each flow that pauses for its own steps
// (switchover, planned restart, restore). The switch goes back on only when the last holder lets go,
// so a switchover ending inside a maintenance window does not end the window, and `pgha resume`
// does not pull the pause from under a switchover that is half-way.

/** How often each node worker's keeper looks at the cluster (heal, unstick, maintenance's pause kept). */
export const KEEPER_EVERY_MS = 5000;

/** The operator's maintenance mode: who asked, why, since when (ISO time), and the flow that set it. */
export interface MaintenanceRecord {
  by: string;
  reason: string | null;
  since: string;
  flowId: string;
}

/**
 * One holder of the pause. A flow's `state` is its state from its steps (flowState: completed, failed,
 * active, waiting…), null when its record is gone: a flow that completed holds nothing any more
 * (a restore ends without a resume step: its restarted nodes forgot the pause), a failed one still
 * does (retrying its failed step finishes it, and its last step resumes).
 */
export type PauseHolder = { kind: 'maintenance'; record: MaintenanceRecord } | { kind: 'flow'; flowId: string; state: string | null };

/** Who lets go: the operator's `pgha resume` (force: also the flows' holds), or the flow `flowId`'s resume step. */
export type Releaser = { kind: 'maintenance'; force?: boolean } | { kind: 'flow'; flowId: string };

export interface Release {
  /** repmgrd may be unpaused now. */
  unpause: boolean;
  /** The holders left (none when unpause is true). */
  heldBy: PauseHolder[];
  /** Flow holds the release drops (`pgha resume --force`). */
  dropped: PauseHolder[];
  /** One line for the step's log and the CLI. */
  reason: string;
}

export const describeHolder = (h: PauseHolder): string =>
  h.kind === 'maintenance'
    ? `maintenance mode (by ${h.record.by} since ${h.record.since}${h.record.reason ? `: ${h.record.reason}` : ''}; pgha resume ends it)`
    : `flow ${h.flowId} (${h.state ?? 'record gone'}${h.state === 'failed' ? ': retry its failed step in the dashboard, or pgha resume --force' : ''})`;

/** Whether a holder still holds failover paused (pure): maintenance mode, or a flow that has not completed (a failed one still does). */
export const holdsFailover = (h: PauseHolder) => h.kind === 'maintenance' || h.state !== 'completed';

/**
 * Whether `releaser`'s release may unpause repmgrd (pure): yes only when no other holder remains.
 * The releaser's own hold is never counted; a completed flow's hold is stale; `pgha resume --force`
 * drops the flows' holds too (the operator takes over: a failed switchover's pause ends with it).
 */
export function releasePause(holders: PauseHolder[], releaser: Releaser): Release {
  const others = holders.filter((h) => holdsFailover(h) && !(h.kind === releaser.kind && (h.kind === 'maintenance' || (releaser.kind === 'flow' && h.flowId === releaser.flowId))));
  const dropped: PauseHolder[] = releaser.kind === 'maintenance' && releaser.force ? others.filter((h) => h.kind === 'flow') : [];
  const heldBy = others.filter((h) => !dropped.includes(h));
  if (heldBy.length) return { unpause: false, heldBy, dropped, reason: `repmgrd stays paused: still held by ${heldBy.map(describeHolder).join(', ')}` };
  return { unpause: true, heldBy, dropped, reason: dropped.length ? `automatic failover resumed; dropped the hold of ${dropped.map(describeHolder).join(', ')}` : 'automatic failover resumed' };
}

/**
 * Whether this node must pause its repmgrd now (pure): maintenance mode is on and the node answers
 * with repmgrd not paused (PostgreSQL restarted: the pause lives in its shared memory and went with it).
 */
export function mustReassertPause(maintenance: MaintenanceRecord | null, self: { answered: boolean; repmgrdPaused?: boolean }): boolean {
  return maintenance !== null && self.answered && self.repmgrdPaused === false;
}
