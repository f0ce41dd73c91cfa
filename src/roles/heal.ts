// The standby keeper's rule (pure): a standby that does not stream from the current primary (its
// primary_conninfo names a node that is now a standby, its slot is gone, its timeline forked) is
// brought back by a flow of its own (ensure-follows: follow, else rewind, else re-clone with the old
// directory kept until the new one streams) once that has lasted healAfterMs. Never while an
// operation is in progress (repmgrd paused, or a step of this node's flows queued or running).

import { answered, majorityPrimary, nodeOf, type ClusterView } from './view.js';

/** How long a standby may stream from elsewhere (or nothing) before it is healed: longer than repmgrd's own follow after a failover and the follow-up flow's. */
export const HEAL_AFTER_MS = 30_000;

export interface StandbyObservation {
  now: number;
  /** The node this keeper runs for. */
  self: string;
  /** The cluster as read now. */
  view: ClusterView;
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
  const self = nodeOf(o.view, o.self);
  if (!answered(self)) return none('PostgreSQL does not answer (stopped, starting, being cloned or fenced): nothing to heal here; its own flows and the fencing watchdog start it');
  if (self.writable) return none('not a standby');
  const primary = majorityPrimary(o.view)?.name ?? null;
  if (!primary) return none('no single primary with a majority to follow: waits read-only');
  const upstream = self.upstream ?? null;
  if (upstream === primary) return none(`streams from the primary ${primary}`);
  const where = upstream ? `streams from ${upstream}, not from the primary ${primary}` : `streams from nothing while ${primary} is the primary`;
  // repmgrd paused on a node that answered: an operation (switchover, restart, restore) is under way,
  // and it may be what moves this node: its full window starts once that ends
  if (o.view.nodes.some((n) => answered(n) && n.repmgrdPaused)) return none(`${where}; repmgrd is paused (an operation is in progress): waits for it`);
  if (o.busySteps > 0) return none(`${where}; ${o.busySteps} step(s) of its flows are under way: waits for them`);
  const since = state.wrongSince ?? o.now;
  if (o.now - since < healAfterMs) return none(`${where} for ${o.now - since} ms: heals after ${healAfterMs} ms`, since);
  return { state: { wrongSince: null }, decision: { action: 'heal', primary, reason: `${where} for ${o.now - since} ms: follow it (rewind or re-clone when it cannot)` } };
}
