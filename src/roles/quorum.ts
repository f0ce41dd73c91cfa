// Quorum-synchronous replication (pure): the synchronous_standby_names each node keeps so that every
// commit a primary acknowledges is on a majority of the cluster (the primary included; majorityOf is
// view.ts's, the one notion of majority).
import { majorityOf } from './view.js';

/**
 * How many standbys must confirm a commit (flushed to their disk) before the primary acknowledges it,
 * so that the primary plus them is a majority: majority − 1 (1 of 3 nodes' standbys, 2 of 4, 2 of 5).
 */
export const quorumStandbys = (clusterSize: number): number => majorityOf(clusterSize) - 1;

export type SynchronousMode = 'quorum' | 'off';

/**
 * The quorum setting of a cluster: `ANY k ("node1", "node2", …)` (PostgreSQL's quorum-based
 * synchronous replication, "Multiple Synchronous Standbys" in its documentation), every node named,
 * the primary too, which is harmless (no walsender of its own) and lets one value serve on every node,
 * so a promoted standby requires the quorum from its first commit. repmgr sets each walreceiver's
 * application_name to its node name, which is what PostgreSQL matches. '' with mode off or one node.
 */
export function quorumStandbyNames(mode: SynchronousMode, nodeNames: string[]): string {
  const k = quorumStandbys(nodeNames.length);
  if (mode === 'off' || k === 0) return '';
  return `ANY ${k} (${nodeNames.map((n) => `"${n}"`).join(', ')})`;
}

export interface SyncObservation {
  /** This node accepts writes (pg_is_in_recovery() is false). */
  writable: boolean;
  /** Its synchronous_standby_names now (SHOW). */
  current: string;
  /** Names of the cluster's nodes whose walreceiver streams from it now (pg_stat_replication, state streaming). */
  streaming: string[];
}

export type SyncDecision = { action: 'keep'; reason: string } | { action: 'set'; value: string; reason: string };

/**
 * What synchronous_standby_names this node should have. A standby keeps the quorum value ready, so
 * that it requires the quorum from the moment it is promoted. A primary that has the quorum keeps it,
 * whatever streams: dropping it while standbys are away would acknowledge commits a failover can
 * lose (a commit waits instead; that is the price of zero loss). A primary without it (a first start
 * or a restore: no standby exists yet, and those flows write) turns it on once enough standbys stream
 * to satisfy it, so turning it on never blocks a commit. Mode off: '' everywhere.
 */
export function decideSynchronous(mode: SynchronousMode, nodeNames: string[], o: SyncObservation): SyncDecision {
  const want = quorumStandbyNames(mode, nodeNames);
  if (o.current === want) return { action: 'keep', reason: want ? `quorum in place: ${want}` : 'asynchronous replication (replication.synchronous: off)' };
  if (!want) return { action: 'set', value: '', reason: 'replication.synchronous is off (or a single node): asynchronous replication' };
  if (!o.writable) return { action: 'set', value: want, reason: `a standby keeps the quorum ready for its promotion: ${want}` };
  const k = quorumStandbys(nodeNames.length);
  const members = o.streaming.filter((n) => nodeNames.includes(n));
  if (members.length >= k) return { action: 'set', value: want, reason: `${members.length} standbys stream (${members.join(', ')}), ${k} needed: commits now wait for a majority (${want})` };
  const have = `${members.length} of the ${k} standbys it needs stream (${members.join(', ') || 'none'})`;
  if (o.current) return { action: 'keep', reason: `keeps ${o.current} until ${want} can be met: ${have}` };
  return { action: 'keep', reason: `quorum not yet on: ${have}; commits are acknowledged by this node alone until then` };
}
