// The restart decision: what a node with a data directory may start as, from what it and its peers
// say. Pure, and the one place that keeps "never two writable primaries" on a restart.
import { answered, hasMajority, type ClusterView, type NodeView } from './view.js';

export interface SelfView {
  name: string;
  /** standby.signal is in the data directory: the node was a standby when it stopped. */
  wasStandby: boolean;
  /**
   * The newest timeline it holds WAL of: its last checkpoint's (pg_controldata), or newer when its
   * pg_wal has segments of a newer one (promoted, then stopped before a checkpoint on it).
   */
  timeline: number;
}

export type RoleDecision =
  | { action: 'start-primary'; reason: string }
  | { action: 'start-standby'; upstream: string | null; reason: string }
  | { action: 'rejoin'; primary: string; reason: string }
  | { action: 'refuse'; reason: string };

const names = (ps: NodeView[]) => ps.map((p) => p.name).join(', ');

/**
 * What node `self` (its PostgreSQL stopped; its data directory says `self`) may start as, from
 * `view`: every node of the cluster as read now, `self` included (its own entry is not read).
 */
export function decideRole(self: SelfView, view: ClusterView): RoleDecision {
  const peers = view.nodes.filter((p) => p.name !== self.name);
  const reachable = peers.filter(answered);
  const primaries = reachable.filter((p) => p.writable === true);
  const unreachable = peers.filter((p) => !answered(p));
  if (primaries.length > 1) {
    return {
      action: 'refuse',
      reason: `${names(primaries)} all accept writes: the cluster already has two primaries; stop all but one (pgha status shows timelines), then retry this step`,
    };
  }
  const primary = primaries[0];
  if (self.wasStandby) {
    // read-only is always safe: start, and follow the primary when there is one
    return primary
      ? { action: 'start-standby', upstream: primary.name, reason: `was a standby; ${primary.name} is the primary (timeline ${primary.timeline ?? '?'})` }
      : { action: 'start-standby', upstream: null, reason: `was a standby; no primary reachable now (${unreachable.length ? `unreachable: ${names(unreachable)}` : 'every peer is a standby'}); it waits read-only` };
  }
  if (primary) {
    return {
      action: 'rejoin',
      primary: primary.name,
      reason: `was the primary on timeline ${self.timeline}, but ${primary.name} is now the primary (timeline ${primary.timeline ?? '?'}): rejoin as its standby`,
    };
  }
  const newer = reachable.filter((p) => (p.timeline ?? 0) > self.timeline);
  if (newer.length) {
    return {
      action: 'refuse',
      reason:
        `was the primary on timeline ${self.timeline}, but ${newer.map((p) => `${p.name} is on timeline ${p.timeline}`).join(', ')} and no primary is reachable: ` +
        `a failover happened; start the promoted node first (or promote one with pgha failover --to NODE), then this node rejoins`,
    };
  }
  const otherPrimary = reachable.flatMap((p) => (p.repmgrPrimaries ?? []).filter((n) => n !== self.name).map((n) => `${p.name} names ${n}`));
  if (otherPrimary.length) {
    return {
      action: 'refuse',
      reason: `was the primary, but repmgr's metadata disagrees (${otherPrimary.join('; ')}) and that node is not reachable as a primary; check pgha status and repmgr cluster show, then retry`,
    };
  }
  if (!hasMajority(view, (n) => n.name === self.name || answered(n))) {
    return {
      action: 'refuse',
      reason:
        `was the primary, but only ${reachable.length} of ${peers.length} peers answer (unreachable: ${names(unreachable)}): ` +
        `without a majority it cannot prove no other node was promoted; it stays down and retries. Bring a peer back, or if you know the others are gone for good, remove them from pgha.yaml`,
    };
  }
  return {
    action: 'start-primary',
    reason: `was the primary on timeline ${self.timeline}; ${reachable.length} of ${peers.length} peers answer, none is a primary or on a newer timeline`,
  };
}

/**
 * May the master node initdb a new, empty primary (its first start)? Only when no other node accepts
 * writes and no node's repmgr metadata names a primary: otherwise the cluster exists and an empty
 * primary would accept writes beside it. Returns the reason to refuse, or null (pure).
 */
export function firstStartProblem(self: string, view: ClusterView): string | null {
  const peers = view.nodes.filter((p) => p.name !== self && answered(p));
  const writable = peers.filter((p) => p.writable === true).map((p) => p.name);
  if (writable.length) {
    return `${writable.join(', ')} already accepts writes: the cluster exists, and a first start of ${self} would initdb an empty primary beside it; ${self} must join as a standby (its worker's restart flow clones it once it has run before), or remove its data from pgha's state folder only if you mean to start a new cluster`;
  }
  const named = peers.flatMap((p) => (p.repmgrPrimaries ?? []).map((n) => `${p.name} names ${n}`));
  if (named.length) {
    return `repmgr's metadata already names a primary (${named.join('; ')}): the cluster exists, and a first start of ${self} would initdb an empty primary; start that primary first (pgha status), then ${self} rejoins`;
  }
  return null;
}
