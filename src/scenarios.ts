// Every flow an operator can start, from the CLI or POST /api/flows: check the request (pure), then
// against the live cluster, and build the flow. One code path: the CLI and the API differ only in
// how they report (the CLI follows the flow, the API answers with its id).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ClusterConfig } from './config/schema.js';
import { checkParameters, parameterChanges, rollOut, type ParameterValue } from './postgres/parameters.js';
import { readSettings } from './postgres/actions.js';
import { findNode, masterNode } from './config/paths.js';
import { planRestore, type RestoreReach, type RestoreTarget } from './barman/restore.js';
import type { BackupInfo } from './barman/actions.js';
import { buildFirstStartFlow } from './flows/first-start.js';
import { buildApplyParametersFlow, buildBackupFlow, buildMaintenanceFlow, buildPlannedRestartFlow, buildReinitFlow, buildRestoreFlow, buildRoleChangeFlow } from './flows/operations.js';
import type { FlowJob } from 'bullmq';
import { nodeStatuses, type NodeStatus } from './status.js';
import { readClusterView } from './probe.js';
import { lsnToBytes } from './postgres/lsn.js';
import { decidePromotion } from './roles/promotion.js';
import { runBarmanJob } from './flows/jobs.js';
import { enqueueFlow } from './flows/run.js';
import type { Redis } from 'ioredis';

export const SCENARIOS = ['first-start', 'restart', 'failover', 'switchover', 'backup', 'restore', 'pause', 'resume', 'reinit', 'apply-config'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Which scenarios name a node, and what the node is to them. */
const NODE_ROLE: Record<Scenario, 'required' | 'optional' | 'none'> = {
  'first-start': 'required',
  restart: 'required',
  failover: 'required',
  switchover: 'required',
  backup: 'none',
  restore: 'optional',
  pause: 'none',
  resume: 'none',
  reinit: 'required',
  'apply-config': 'none',
};

export const RestoreParamsSchema = z.strictObject({
  /** A restore replaces every node's data: the request must say so. */
  confirm: z.boolean().optional(),
  backup: z.string().min(1).default('latest'),
  targetTime: z.string().min(1).optional(),
  targetLsn: z.string().min(1).optional(),
  target: z.string().optional(),
});

export const FailoverParamsSchema = z.strictObject({
  /** Promote although the promotion rule refuses (a node ahead of it, or no majority answering): acknowledged commits may be lost. */
  force: z.boolean().optional(),
});

/** Who asked for maintenance mode: the CLI sends user@host; the API's default says it came through the API. */
const By = z.string().min(1).max(200).default('the REST API');

export const PauseParamsSchema = z.strictObject({
  /** Why, shown with who and since when in status, on the page and in the step's log (no secrets: it is stored in Redis). */
  reason: z.string().max(500).optional(),
  by: By,
});

export const ResumeParamsSchema = z.strictObject({
  /** Also drop the pause a flow holds (one that failed half-way): automatic failover comes back now. */
  force: z.boolean().optional(),
  by: By,
});

/** The params each scenario takes; the others take none. */
const PARAMS: Partial<Record<Scenario, z.ZodType>> = {
  restore: RestoreParamsSchema,
  failover: FailoverParamsSchema,
  pause: PauseParamsSchema,
  resume: ResumeParamsSchema,
};

export const FlowRequestSchema = z.strictObject({
  scenario: z.enum(SCENARIOS, { error: `must be one of ${SCENARIOS.join(', ')}` }),
  node: z.string().min(1).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});
export type FlowRequest = z.infer<typeof FlowRequestSchema>;

export interface Problem {
  path: string;
  message: string;
}

/** 400: the request is wrong. 409: it is right, but the cluster's state does not allow it now. */
export type Refusal = { ok: false; status: 400 | 409; error: string; details: Problem[] };
export type Checked = {
  ok: true;
  scenario: Scenario;
  node?: string;
  restore?: { backup: string; target: RestoreTarget };
  force?: boolean;
  maintenance?: { by: string; reason: string | null };
  /** apply-config: the config's parameters, with the field they are reported under. */
  parameters?: { values: Record<string, ParameterValue>; path: string };
};
export type Planned = { ok: true; scenario: Scenario; flowId: string; tree: FlowJob; summary: string };

const refuse = (status: 400 | 409, details: Problem[]): Refusal => ({
  ok: false,
  status,
  error: details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; '),
  details,
});

/** The recovery target from a restore's options (pure). */
export function parseTarget(o: { targetTime?: string; targetLsn?: string; target?: string }): RestoreTarget | Problem {
  const given = (['targetTime', 'targetLsn', 'target'] as const).filter((k) => o[k] !== undefined);
  if (given.length > 1) return { path: `params.${given[1]}`, message: 'give one of targetTime (--target-time), targetLsn (--target-lsn), target "immediate" (--target immediate)' };
  if (o.target !== undefined && o.target !== 'immediate') return { path: 'params.target', message: `the only named target is "immediate" (got ${o.target})` };
  if (o.target === 'immediate') return { kind: 'immediate' };
  // the form is checked here, before any backup is looked at (that takes barman seconds)
  if (o.targetTime !== undefined) {
    if (Number.isNaN(Date.parse(o.targetTime))) return { path: 'params.targetTime', message: `--target-time ${o.targetTime}: not an ISO 8601 time (like 2026-11-26T13:05:00Z)` };
    return { kind: 'time', time: o.targetTime };
  }
  if (o.targetLsn !== undefined) {
    if (lsnToBytes(o.targetLsn) === null) return { path: 'params.targetLsn', message: `--target-lsn ${o.targetLsn}: not an LSN (like 0/5000028)` };
    return { kind: 'lsn', lsn: o.targetLsn };
  }
  return { kind: 'latest' };
}

/** Check a request against the schema and the config (pure): every problem, each naming its field. */
export function checkFlowRequest(config: ClusterConfig, body: unknown): Checked | Refusal {
  const parsed = FlowRequestSchema.safeParse(body);
  if (!parsed.success) {
    return refuse(400, parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message })));
  }
  const { scenario, node, params } = parsed.data;
  const problems: Problem[] = [];
  const known = config.nodes.map((n) => n.name);
  if (NODE_ROLE[scenario] === 'required' && node === undefined) problems.push({ path: 'node', message: `${scenario} needs a node, one of ${known.join(', ')}` });
  if (NODE_ROLE[scenario] === 'none' && node !== undefined) problems.push({ path: 'node', message: `${scenario} takes no node` });
  if (node !== undefined && !known.includes(node)) problems.push({ path: 'node', message: `unknown node "${node}", known: ${known.join(', ')}` });
  const schema = PARAMS[scenario];
  if (!schema && params !== undefined && Object.keys(params).length) problems.push({ path: 'params', message: `${scenario} takes no params (only ${Object.keys(PARAMS).join(', ')} do)` });
  const p = schema?.safeParse(params ?? {});
  if (p && !p.success) for (const i of p.error.issues) problems.push({ path: ['params', ...i.path].join('.'), message: i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message });
  const data: any = p?.success ? p.data : undefined;
  let force: boolean | undefined;
  let maintenance: Checked['maintenance'];
  if (data && (scenario === 'failover' || scenario === 'resume')) force = data.force;
  if (data && (scenario === 'pause' || scenario === 'resume')) maintenance = { by: data.by, reason: data.reason ?? null };
  // apply-config takes its parameters from the config file only (a request cannot hand PostgreSQL
  // settings, some of which run commands); the config loader already refused the ones pgha owns
  const parameters: Checked['parameters'] = scenario === 'apply-config' ? { values: config.postgres.parameters, path: 'postgres.parameters' } : undefined;
  let restore: Checked['restore'];
  if (data && scenario === 'restore') {
    if (data.confirm !== true) problems.push({ path: 'params.confirm', message: 'must be true: a restore replaces the data of every node of the cluster with the backup' });
    const target = parseTarget(data);
    if ('path' in target) problems.push(target);
    else restore = { backup: data.backup, target };
  }
  if (problems.length) return refuse(400, problems);
  return { ok: true, scenario, node, restore, force, maintenance, parameters };
}

const names = (nodes: NodeStatus[]) => nodes.map((n) => n.name).join(', ') || 'none';

/** Check the request against the live cluster and build its flow (nothing is enqueued). */
export async function planScenario(config: ClusterConfig, body: unknown, stamp = `${Date.now()}-${randomBytes(2).toString('hex')}`): Promise<Planned | Refusal> {
  const checked = checkFlowRequest(config, body);
  if (!checked.ok) return checked;
  const { scenario } = checked;
  const node = checked.node!;
  const id = (what: string) => `${config.cluster}-${what}-${stamp}`;
  if (scenario === 'first-start') {
    const flow = buildFirstStartFlow(config, node);
    return { ok: true, scenario, ...flow, summary: `first start of ${node}` };
  }
  if (scenario === 'restart') {
    return { ok: true, scenario, ...buildPlannedRestartFlow(config, node, id(`restart-${node}`)), summary: `planned restart of ${node}` };
  }
  // one read for the checks and the promotion rule
  const view = await readClusterView(config);
  const nodes = nodeStatuses(config, view);
  const primaries = nodes.filter((n) => n.role === 'primary');
  const standbys = nodes.filter((n) => n.role === 'standby');
  if (scenario === 'backup') {
    const primary = primaries[0]?.name ?? masterNode(config).name;
    return { ok: true, scenario, ...buildBackupFlow(config, primary, id('backup')), summary: `backup of ${primary}` };
  }
  if (scenario === 'pause' || scenario === 'resume') {
    // repmgr service pause|unpause reaches every node from any one whose PostgreSQL answers
    const via = primaries[0] ?? standbys[0];
    if (!via) return refuse(409, [{ path: '', message: `no node's PostgreSQL answers: ${scenario} needs one running node (repmgr service ${scenario === 'pause' ? 'pause' : 'unpause'} is run there)` }]);
    const { by, reason } = checked.maintenance!;
    const flow = buildMaintenanceFlow(config, via.name, id(scenario), { paused: scenario === 'pause', by, reason, force: checked.force });
    const summary =
      scenario === 'pause'
        ? `maintenance mode on, by ${by}${reason ? ` (${reason})` : ''}: automatic failover paused cluster-wide`
        : `maintenance mode off, by ${by}: automatic failover resumes${checked.force ? ' (the pause of any flow dropped too)' : ' unless a flow still holds it'}`;
    return { ok: true, scenario, ...flow, summary };
  }
  if (scenario === 'apply-config') {
    const { values, path } = checked.parameters!;
    const down = nodes.filter((n) => n.role !== 'primary' && n.role !== 'standby');
    if (down.length) return refuse(409, [{ path: '', message: `${names(down)} down: config apply writes the parameters on every node; start it, or remove it from pgha.yaml` }]);
    if (primaries.length !== 1) return refuse(409, [{ path: '', message: `config apply needs one primary, found ${primaries.length} (${names(primaries)})` }]);
    const settings = new Map(await Promise.all(nodes.map(async (n) => [n.name, await readSettings(config, findNode(config, n.name))] as const)));
    const problems = checkParameters(values, settings.get(primaries[0]!.name)!).map((pr) => ({ ...pr, path: pr.path.replace(/^postgres\.parameters/, path) }));
    if (problems.length) return refuse(400, problems);
    const changes = nodes.flatMap((n) => parameterChanges(values, settings.get(n.name)!).map((c) => ({ ...c, node: n.name })));
    const plan = rollOut(changes);
    if (!plan.ok) return refuse(409, [{ path, message: plan.reason }]);
    const flow = buildApplyParametersFlow(config, {
      flowId: id('apply-config'),
      parameters: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)])),
      primary: primaries[0]!.name,
      standbys: standbys.map((n) => n.name),
      kind: plan.kind,
    });
    const what = [...new Map(changes.map((c) => [c.name, `${c.name} ${c.from} → ${c.to ?? 'default'}`])).values()];
    return { ok: true, scenario, ...flow, summary: `${plan.reason}${what.length ? ` (${what.join(', ')})` : ''}` };
  }
  if (scenario === 'reinit') {
    const target = nodes.find((n) => n.name === node)!;
    if (target.role === 'primary') {
      const other = standbys[0]?.name;
      return refuse(409, [{ path: 'node', message: `${node} is the primary: reinit re-clones a standby from the primary${other ? `; to reinit ${node}, switch over first (pgha switchover --to ${other})` : ''}` }]);
    }
    if (primaries.length !== 1) return refuse(409, [{ path: 'node', message: `reinit clones ${node} from the primary, and ${primaries.length} nodes run as one (${names(primaries)}): wait for the cluster to have one primary` }]);
    // the primary must still see a majority while this node is down, or failover is held meanwhile
    const othersUp = nodes.filter((n) => n.name !== node && (n.role === 'primary' || n.role === 'standby')).length;
    const holdFailover = othersUp * 2 <= config.nodes.length;
    const flow = buildReinitFlow(config, node, primaries[0]!.name, id(`reinit-${node}`), holdFailover);
    return { ok: true, scenario, ...flow, summary: `reinit of ${node}: a fresh clone of ${primaries[0]!.name}, the old data directory kept aside until it streams${holdFailover ? '; automatic failover paused meanwhile (without it the primary sees no majority)' : ''}` };
  }
  if (scenario === 'failover' || scenario === 'switchover') {
    const target = nodes.find((n) => n.name === node)!;
    if (target.role !== 'standby') return refuse(409, [{ path: 'node', message: `${node} is ${target.role}, not a running standby; pick one of: ${names(standbys)}` }]);
    let promotion: string | undefined;
    if (scenario === 'failover') {
      const d = decidePromotion(node, view, { force: checked.force });
      if (!d.ok) {
        const how = d.forceable ? `; to promote ${node} anyway, losing that, use --force (API: params.force: true)` : '';
        return refuse(409, [{ path: 'node', message: `failover to ${node} refused: ${d.reason}${how}` }]);
      }
      promotion = d.reason;
    }
    if (scenario === 'switchover' && primaries.length !== 1) {
      return refuse(409, [{ path: 'node', message: `switchover needs exactly one running primary, found ${primaries.length}; for a dead primary use failover to ${node}` }]);
    }
    const flow = buildRoleChangeFlow(config, { mode: scenario, from: primaries[0]?.name ?? null, to: node, flowId: id(`${scenario}-${node}`), followers: standbys.map((n) => n.name), force: checked.force });
    return { ok: true, scenario, ...flow, summary: `${scenario} to ${node}${promotion ? ` (${promotion})` : ''}` };
  }
  // restore
  const down = nodes.filter((n) => n.role === 'down');
  if (down.length) {
    return refuse(409, [{ path: '', message: `${names(down)} down: a restore needs every node's worker and PostgreSQL running (start them, or remove the node from pgha.yaml)` }]);
  }
  const into = checked.node ?? primaries[0]?.name ?? masterNode(config).name;
  const { backup, target } = checked.restore!;
  const plan = await runBarmanJob<{ backups: BackupInfo[]; lastWalTime: string | null; reach: RestoreReach | null }>(config, 'barman-restore-plan', 180_000, {
    switchWal: target.kind !== 'immediate',
    backup,
    reach: true,
    // an idle primary's switched WAL reaches barman only once it writes again (switchWalArchived)
    ...(primaries.length === 1 ? { primary: primaries[0]!.name } : {}),
  });
  const restorable = planRestore({ backups: plan.backups, lastWalTime: plan.lastWalTime, backupId: backup, target, reach: plan.reach });
  if (!restorable.ok) return refuse(409, [{ path: 'params', message: `restore refused, nothing was stopped: ${restorable.problem}` }]);
  const flow = buildRestoreFlow(config, {
    target: into,
    backupId: restorable.backupId,
    recoveryTarget: target,
    flowId: id('restore'),
    pauseVia: primaries[0]?.name ?? into,
  });
  return { ok: true, scenario, ...flow, summary: `restore of backup ${restorable.backupId} into ${into}` };
}

/** Check, plan and enqueue a request (the CLI through the client, and POST /api/flows): the planned flow, or the refusal with nothing enqueued. */
export async function startScenario(config: ClusterConfig, connection: Redis, body: unknown): Promise<Planned | Refusal> {
  const planned = await planScenario(config, body);
  if (planned.ok) await enqueueFlow(connection, planned, planned.scenario);
  return planned;
}
