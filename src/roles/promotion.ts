// The promotion rule (pure): which standby may become the primary. Asked by `pgha failover --to`
// (and POST /api/flows), by the promote step at the moment it runs, and by repmgrd before it promotes
// (failover_validation_command). With quorum replication every acknowledged commit is on a majority
// of the nodes; any majority shares a node with it, so the most advanced node of a reachable majority
// holds every acknowledged commit. Promoting any other node, or with no majority in sight, can lose one.
import { answered, hasMajority, majorityOf, writableNodes, type ClusterView, type NodeView } from './view.js';

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
