// The one snapshot of the cluster every rule on who may accept writes decides on (pure): what each
// node of the cluster answered to a probe of its PostgreSQL (src/status.ts reads it, once per
// decision; the fencing watchdog keeps a running one, each node's latest answer). The restart
// decision (decide.ts), the first start's guard, the promotion rule (promotion.ts), the fencing
// watchdog and repmgrd's backstop (fence.ts), the timeline a promotion takes (timeline.ts), the standby
// keeper (heal.ts), the barman reconcile, the health checks and the
// status table all read it, and count a majority one way: hasMajority below.

/** One node of the cluster as read for a decision. Everything but `name` and `answeredAt` is known only when it answered. */
export interface NodeView {
  name: string;
  /**
   * When the probe it answered was sent (ms since the epoch). In a one-time read: null when it did not
   * answer. In the watchdog's running view: its latest answer, however old; null when it never answered.
   */
  answeredAt: number | null;
  /** It accepts writes (pg_is_in_recovery() is false). */
  writable?: boolean;
  /** On a primary the timeline it writes; on a standby the newest it holds WAL of. */
  timeline?: number | null;
  /**
   * The highest timeline number it knows besides its own (a history file in its pg_wal, a reservation
   * recorded on it by a promotion: src/roles/timeline.ts); null when none.
   */
  timelineTaken?: number | null;
  /** The furthest WAL it has (bytes): received or replayed on a standby, the current position on a primary. */
  lsn?: bigint | null;
  /** How far it replayed (bytes): a standby's lag is counted from here. */
  replayLsn?: bigint | null;
  /** The node of the cluster its walreceiver streams from; null when none. */
  upstream?: string | null;
  /** The nodes its repmgr metadata has as active primary. */
  repmgrPrimaries?: string[];
  /** `repmgr service pause` is in effect on it: no standby promotes by itself meanwhile. */
  repmgrdPaused?: boolean;
  /** When its PostgreSQL started (ms since the epoch). */
  startedAt?: number;
  /** Seconds since its repmgrd last saw its upstream; -1 when unknown (no repmgrd there, or a primary). */
  upstreamLastSeenSecs?: number;
  /** Parameters changed in its files that wait for a restart (pg_settings.pending_restart). */
  pendingRestart?: string[];
  /** Why it did not answer. */
  error?: string;
  /** It did not answer because nothing listens there or the network gave up (refused, timed out, starting up): down, not merely in error. */
  down?: boolean;
  /** Its host refused the connection (nothing listens on the port, or no socket file): no PostgreSQL runs there now. A silence proves nothing. */
  refused?: boolean;
}

/** Every node of the cluster (the deciding node included), as read for one decision. */
export interface ClusterView {
  nodes: NodeView[];
}

/** Role of a node in the table and the health checks. */
export type Role = 'primary' | 'standby' | 'down' | 'unknown';

/** It answered (in a running view: at least once). */
export const answered = (n: NodeView): boolean => n.answeredAt !== null;

/** Nodes needed for a majority of a cluster of `clusterSize` nodes: more than half (2 of 3, 3 of 4, 3 of 5). */
export const majorityOf = (clusterSize: number): number => Math.floor(clusterSize / 2) + 1;

/**
 * The one majority test: do the nodes `counts` accepts (by default: those that answered) make a
 * majority of the whole cluster? A deciding node that is not in the answers (its PostgreSQL is
 * down) counts itself through `counts`. An even-sized cluster split in halves has no majority.
 */
export function hasMajority(view: ClusterView, counts: (n: NodeView) => boolean = answered): boolean {
  return view.nodes.filter(counts).length >= majorityOf(view.nodes.length);
}

/** The nodes that answered and accept writes. */
export const writableNodes = (view: ClusterView): NodeView[] => view.nodes.filter((n) => answered(n) && n.writable === true);

/** The one writable node, when exactly one answers as writable and a majority of the cluster answered; null otherwise. */
export function majorityPrimary(view: ClusterView): NodeView | null {
  const writable = writableNodes(view);
  return writable.length === 1 && hasMajority(view) ? writable[0] : null;
}

/** A node by name; throws when the view has no such node (a caller's mistake, never a cluster state). */
export function nodeOf(view: ClusterView, name: string): NodeView {
  const n = view.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`${name} is not a node of this cluster (${view.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

/**
 * What the table and the health checks call a node: primary (the only writable one), standby,
 * unknown (writable beside another writable node, or it failed in a way that is not "down"), down.
 */
export function roleOf(view: ClusterView, name: string): Role {
  const n = nodeOf(view, name);
  if (!answered(n)) return n.down ? 'down' : 'unknown';
  if (!n.writable) return 'standby';
  return writableNodes(view).length === 1 ? 'primary' : 'unknown';
}

/** How many bytes a standby has still to replay of what the one primary wrote; 0 for the primary; null when unknown (no single primary, or not read). */
export function lagBytesOf(view: ClusterView, name: string): number | null {
  const role = roleOf(view, name);
  if (role === 'primary') return 0;
  const writable = writableNodes(view);
  const n = nodeOf(view, name);
  if (role !== 'standby' || writable.length !== 1 || writable[0].lsn == null || n.replayLsn == null) return null;
  const lag = writable[0].lsn - n.replayLsn;
  return Number(lag < 0n ? 0n : lag);
}
