// The standby keeper's rule (pure): a standby that does not stream from the current primary (its
// primary_conninfo names a node that is now a standby, its slot is gone, its timeline forked) is
// brought back by a flow of its own (ensure-follows: follow, else rewind, else re-clone with the old
// directory kept until the new one streams) once that has lasted healAfterMs. Never while an
// operation is in progress (repmgrd paused, or a step of this node's flows queued or running).

/** How long a standby may stream from elsewhere (or nothing) before it is healed: longer than repmgrd's own follow after a failover and the follow-up flow's. */
export const HEAL_AFTER_MS = 30_000;

export interface StandbyObservation {
  now: number;
  /** This node as its PostgreSQL says; null when it does not answer. */
  self: { standby: boolean; upstream: string | null } | null;
  /** The one writable node, seen while a majority of the cluster answered; null otherwise. */
  primary: string | null;
  /** repmgrd is paused on a node that answered: an operation (switchover, restart, restore) is in progress. */
  paused: boolean;
  /** Steps of this node's flows waiting or running. */
  busySteps: number;
}

export interface HealState {
  /** Since when this standby has not streamed from the primary (ms); null when it does. */
  wrongSince: number | null;
}

export type HealDecision = { action: 'none'; reason: string } | { action: 'heal'; primary: string; reason: string };

/** One check of the standby keeper: the next state and what to do. */
export function standbyHealStep(state: HealState, o: StandbyObservation, healAfterMs = HEAL_AFTER_MS): { state: HealState; decision: HealDecision } {
  const none = (reason: string, wrongSince: number | null = null) => ({ state: { wrongSince }, decision: { action: 'none' as const, reason } });
  if (!o.self) return none('PostgreSQL does not answer: its restart flow brings it back');
  if (!o.self.standby) return none('not a standby');
  if (!o.primary) return none('no single primary with a majority to follow: waits read-only');
  if (o.self.upstream === o.primary) return none(`streams from the primary ${o.primary}`);
  const where = o.self.upstream ? `streams from ${o.self.upstream}, not from the primary ${o.primary}` : `streams from nothing while ${o.primary} is the primary`;
  // the operation under way may be what moves it: its full window starts once that ends
  if (o.paused) return none(`${where}; repmgrd is paused (an operation is in progress): waits for it`);
  if (o.busySteps > 0) return none(`${where}; ${o.busySteps} step(s) of its flows are under way: waits for them`);
  const since = state.wrongSince ?? o.now;
  if (o.now - since < healAfterMs) return none(`${where} for ${o.now - since} ms: heals after ${healAfterMs} ms`, since);
  return { state: { wrongSince: null }, decision: { action: 'heal', primary: o.primary, reason: `${where} for ${o.now - since} ms: follow it (rewind or re-clone when it cannot)` } };
}
