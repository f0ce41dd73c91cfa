// Flows after the first start: restart, follow-up of a promotion, switchover, manual failover.
import type { ClusterConfig } from '../config/schema.js';
import { CAPPED_BACKOFF, barmanStep, chainFlow, nodeStep, type PlannedStep } from './chain.js';
import type { RestoreTarget } from '../barman/restore.js';

// a refusal is retried: the answer changes when a peer comes back
const DECIDE_RETRIES = { attempts: 20, backoff: CAPPED_BACKOFF };

/** A node with a data directory boots: decide its role from its peers, start, register, repmgrd. */
export function buildRestartFlow(config: ClusterConfig, node: string, flowId: string) {
  return {
    flowId,
    tree: chainFlow(flowId, [
      nodeStep(config, node, 'decide-and-start', {}, DECIDE_RETRIES),
      nodeStep(config, node, 'register-node'),
      nodeStep(config, node, 'start-repmgrd', { restart: true }),
    ]),
  };
}

/**
 * barman's repair when what is read disagrees with what should be (src/barman/reconcile.ts): stream
 * from `primary` (on a fresh slot with reset), then a backup on its timeline; or only the backup.
 */
export function buildBarmanRepairFlow(config: ClusterConfig, primary: string, flowId: string, repair: { switchFirst: boolean; reset: boolean }) {
  return {
    flowId,
    tree: chainFlow(flowId, [
      ...(repair.switchFirst ? [barmanStep(config, primary, 'barman-switch-primary', { reset: repair.reset })] : []),
      barmanStep(config, primary, 'barman-backup'),
    ]),
  };
}

/** The standby keeper's heal (src/roles/heal.ts): `node` streams from `primary` again (follow, rewind or re-clone). */
export function buildStandbyHealFlow(config: ClusterConfig, node: string, primary: string, flowId: string) {
  return { flowId, tree: chainFlow(flowId, [nodeStep(config, node, 'ensure-follows', { primary, heal: true })]) };
}

/** The steps of a planned restart of `node` (pause, stop, decide and start, register, repmgrd, resume); ids prefixed by `prefix` where a flow holds several. */
export function plannedRestartSteps(config: ClusterConfig, node: string, prefix = ''): PlannedStep[] {
  return prefixed(prefix, [
    nodeStep(config, node, 'set-repmgrd-paused', { paused: true }, { id: 'pause-repmgrd' }),
    nodeStep(config, node, 'stop-postgres'),
    nodeStep(config, node, 'decide-and-start', {}, DECIDE_RETRIES),
    nodeStep(config, node, 'register-node'),
    nodeStep(config, node, 'start-repmgrd', { restart: true }),
    nodeStep(config, node, 'set-repmgrd-paused', { paused: false }, { id: 'resume-repmgrd' }),
  ]);
}

/** Step ids unique within a flow that holds one sequence several times (pure). */
const prefixed = (prefix: string, steps: PlannedStep[]) => (prefix ? steps.map((st) => ({ ...st, id: `${prefix}${st.id ?? st.step}` })) : steps);

/** `pgha restart NODE`: a planned restart; automatic failover is paused for its duration. */
export function buildPlannedRestartFlow(config: ClusterConfig, node: string, flowId: string) {
  return { flowId, tree: chainFlow(flowId, plannedRestartSteps(config, node)) };
}

/**
 * After repmgrd promoted `primary`: barman streams from it, the running standbys (`followers`) follow
 * it, and a backup starts the new timeline. Down nodes are left out: a step on a dead host's queue
 * would hold the flow, and their restart decision makes them follow anyway.
 */
export function buildAfterPromotionFlow(config: ClusterConfig, primary: string, flowId: string, followers: string[]) {
  return {
    flowId,
    tree: chainFlow(flowId, [
      barmanStep(config, primary, 'barman-switch-primary'),
      ...followers.map((n) => nodeStep(config, n, 'ensure-follows', { primary }, { id: `ensure-follows-${n}` })),
      barmanStep(config, primary, 'barman-backup'),
    ]),
  };
}

/** An on-demand backup (`pgha backup`, POST /api/flows): barman must be able to take one, then it does. */
export function buildBackupFlow(config: ClusterConfig, primary: string, flowId: string) {
  return {
    flowId,
    tree: chainFlow(flowId, [barmanStep(config, primary, 'barman-ready'), barmanStep(config, primary, 'barman-backup')]),
  };
}

/**
 * Switchover (planned): pause repmgrd, stop the old primary cleanly, promote the target once it has
 * replayed the shutdown checkpoint, rejoin the old primary, the others follow, barman switches.
 * Manual failover: the old primary is gone; promote the target (refused while any node takes writes).
 */
export function buildRoleChangeFlow(
  config: ClusterConfig,
  opts: { mode: 'switchover' | 'failover'; from: string | null; to: string; flowId: string; followers: string[]; force?: boolean },
) {
  return { flowId: opts.flowId, tree: chainFlow(opts.flowId, roleChangeSteps(config, opts)) };
}

/** The steps of buildRoleChangeFlow; ids prefixed by `prefix` where a flow holds several (a switchover and back). */
export function roleChangeSteps(
  config: ClusterConfig,
  opts: { mode: 'switchover' | 'failover'; from: string | null; to: string; followers: string[]; force?: boolean },
  prefix = '',
): PlannedStep[] {
  const { mode, from, to } = opts;
  if (mode === 'switchover' && !from) throw new Error('a switchover needs the current primary');
  if (from === to) throw new Error(`${to} is already the primary`);
  const others = opts.followers.filter((n) => n !== to && n !== from);
  const steps: PlannedStep[] = [nodeStep(config, to, 'set-repmgrd-paused', { paused: true }, { id: 'pause-repmgrd' })];
  if (mode === 'switchover') steps.push(nodeStep(config, from!, 'stop-postgres'));
  // the promote step asks the promotion rule again when it runs: the cluster may have moved since
  steps.push(nodeStep(config, to, 'promote', mode === 'failover' && opts.force ? { force: true, why: mode } : { why: mode }));
  if (mode === 'switchover') steps.push(nodeStep(config, from!, 'rejoin-node', { primary: to }));
  steps.push(...others.map((n) => nodeStep(config, n, 'ensure-follows', { primary: to }, { id: `ensure-follows-${n}` })));
  steps.push(nodeStep(config, to, 'start-repmgrd', { restart: true }));
  steps.push(barmanStep(config, to, 'barman-switch-primary'));
  steps.push(nodeStep(config, to, 'set-repmgrd-paused', { paused: false }, { id: 'resume-repmgrd' }));
  return prefixed(prefix, steps);
}

/**
 * The node workers' failover (decideFailover, src/roles/promotion.ts): `to` is promoted under the
 * promotion rule, read again with `connectTimeoutMs` for the lost primary; the standbys that answered
 * follow it; its repmgrd restarts to monitor it as the primary, and theirs (each was counting down to
 * an election of its own); barman streams from it and takes a backup. No
 * pause: repmgrd keeps watching, and its own promotion asks the same rule, which refuses while `to`
 * takes writes. Down nodes are left to their restart decision.
 */
export function buildDetectedFailoverFlow(config: ClusterConfig, opts: { to: string; followers: string[]; flowId: string; connectTimeoutMs: number }) {
  const { to, followers, flowId } = opts;
  return {
    flowId,
    tree: chainFlow(flowId, [
      nodeStep(config, to, 'promote', { why: 'failover', connectTimeoutMs: opts.connectTimeoutMs, detected: true }),
      // first the followers: under quorum replication the new primary acknowledges no commit until one streams from it
      ...followers.map((n) => nodeStep(config, n, 'ensure-follows', { primary: to }, { id: `ensure-follows-${n}` })),
      nodeStep(config, to, 'start-repmgrd', { restart: true }),
      ...followers.map((n) => nodeStep(config, n, 'start-repmgrd', { restart: true }, { id: `start-repmgrd-${n}` })),
      barmanStep(config, to, 'barman-switch-primary'),
      barmanStep(config, to, 'barman-backup'),
    ]),
  };
}

/**
 * Restore: stop every node; barman recovers the backup (to the target) for `target`; it becomes the
 * primary; every other node is re-cloned from it; barman streams from it; a fresh backup; then the
 * data directories from before the restore are removed (kept until here, so a failure can go back).
 */
export function buildRestoreFlow(config: ClusterConfig, opts: { target: string; backupId: string; recoveryTarget: RestoreTarget; flowId: string; pauseVia: string }) {
  const { target, flowId } = opts;
  const others = config.nodes.map((n) => n.name).filter((n) => n !== target);
  const all = [...others, target];
  return {
    flowId,
    tree: chainFlow(flowId, [
      // no failover while the nodes stop (the pause lives in shared memory: restarted nodes forget it)
      nodeStep(config, opts.pauseVia, 'set-repmgrd-paused', { paused: true }, { id: 'pause-repmgrd' }),
      ...all.map((n) => nodeStep(config, n, 'stop-postgres', {}, { id: `stop-postgres-${n}` })),
      barmanStep(config, target, 'barman-recover', { backupId: opts.backupId, target: opts.recoveryTarget }),
      nodeStep(config, target, 'install-restored', {}, { attempts: 1 }),
      nodeStep(config, target, 'register-node'),
      nodeStep(config, target, 'start-repmgrd', { restart: true }),
      ...others.map((n) => nodeStep(config, n, 'reclone-standby', { primary: target }, { id: `reclone-standby-${n}` })),
      barmanStep(config, target, 'barman-switch-primary', { reset: true }),
      barmanStep(config, target, 'barman-backup'),
      ...all.map((n) => nodeStep(config, n, 'forget-old-data', {}, { id: `forget-old-data-${n}` })),
    ]),
  };
}

/**
 * `pgha pause` / `pgha resume`: the operator's maintenance mode, set or ended from node `via` (any
 * node whose PostgreSQL answers: `repmgr service pause` reaches them all). One step: its record says
 * who and why; a resume leaves repmgrd paused while a flow still holds it, unless `force`.
 */
export function buildMaintenanceFlow(config: ClusterConfig, via: string, flowId: string, o: { paused: boolean; by: string; reason: string | null; force?: boolean }) {
  const step = nodeStep(config, via, 'set-repmgrd-paused', { paused: o.paused, maintenance: { by: o.by, reason: o.reason }, force: o.force ?? false });
  return { flowId, tree: chainFlow(flowId, [step]) };
}

/**
 * `pgha reinit NODE`: a standby cloned again from `primary`; its old data directory is moved aside
 * first and removed only once the new one streams (the last step). repmgrd stays on unless
 * `holdFailover`: without this node the primary would not see a majority, and its watchdog fences a
 * primary that sees none (src/roles/fence.ts) unless repmgrd is paused. The standby keeper leaves
 * a node alone while its step runs.
 */
export function buildReinitFlow(config: ClusterConfig, node: string, primary: string, flowId: string, holdFailover = false) {
  const clone = [nodeStep(config, node, 'reclone-standby', { primary }, { attempts: 2 }), nodeStep(config, node, 'forget-old-data')];
  const steps = holdFailover
    ? [nodeStep(config, primary, 'set-repmgrd-paused', { paused: true }, { id: 'pause-repmgrd' }), ...clone, nodeStep(config, primary, 'set-repmgrd-paused', { paused: false }, { id: 'resume-repmgrd' })]
    : clone;
  return { flowId, tree: chainFlow(flowId, steps) };
}

/**
 * `pgha config apply`: `parameters` written to each node's file (each reloads). Reload only: every
 * node at once. With a restart (src/postgres/parameters.ts, rollOut), each node's file is written
 * just before that node restarts, so a node that restarts on its own in between (a crash, a host
 * reboot) never comes up in the wrong order: standbys-first, each standby in turn (back streaming
 * before the next), then the primary through a switchover to the first standby and back;
 * primary-first, the primary restarted in place, then each standby. Automatic failover is paused
 * only for each restart's or switchover's own steps.
 */
export function buildApplyParametersFlow(
  config: ClusterConfig,
  o: { flowId: string; parameters: Record<string, string>; primary: string; standbys: string[]; kind: 'reload' | 'standbys-first' | 'primary-first' },
) {
  const write = (n: string) => nodeStep(config, n, 'write-parameters', { parameters: o.parameters }, { id: `write-parameters-${n}` });
  const restart = (n: string) => [write(n), ...plannedRestartSteps(config, n, `restart-${n}-`)];
  const steps: PlannedStep[] = [];
  if (o.kind === 'reload') steps.push(...[...o.standbys, o.primary].map(write));
  if (o.kind === 'standbys-first') {
    steps.push(...o.standbys.flatMap(restart));
    const to = o.standbys[0];
    if (to) {
      steps.push(write(o.primary));
      steps.push(...roleChangeSteps(config, { mode: 'switchover', from: o.primary, to, followers: o.standbys }, 'switch-out-'));
      steps.push(...roleChangeSteps(config, { mode: 'switchover', from: to, to: o.primary, followers: o.standbys }, 'switch-back-'));
    } else steps.push(...restart(o.primary));
  }
  if (o.kind === 'primary-first') steps.push(...restart(o.primary), ...o.standbys.flatMap(restart));
  return { flowId: o.flowId, tree: chainFlow(o.flowId, steps) };
}
