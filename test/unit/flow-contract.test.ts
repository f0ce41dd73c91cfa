// The contract between flow builders and step handlers: every step of every flow of every scenario
// has a handler on the worker kind of its queue, and its data parses with that handler's schema. A
// renamed handler, a step named without one, or data its schema refuses fails here, not at run time:
// at compile time first (`npm test` runs tsc over the tests; the lines under @ts-expect-error below
// must not compile), then at test time for what types cannot see (a regex, a queue).
import { describe, it, expect } from '@jest/globals';
import type { FlowJob } from 'bullmq';
import { barmanSteps, controlSteps, handlers, nodeSteps } from '../../jobs/index.js';
import { buildFirstStartFlow } from '../../src/flows/first-start.js';
import {
  buildAfterPromotionFlow,
  buildDetectedFailoverFlow,
  buildApplyParametersFlow,
  buildBackupFlow,
  buildMaintenanceFlow,
  buildReinitFlow,
  buildBarmanRepairFlow,
  buildPlannedRestartFlow,
  buildRestartFlow,
  buildRestoreFlow,
  buildRoleChangeFlow,
  buildStandbyHealFlow,
} from '../../src/flows/operations.js';
import { barmanStep, flowSteps, nodeStep } from '../../src/flows/chain.js';
import { runBarmanJob } from '../../src/flows/jobs.js';
import { barmanQueueName, controlQueueName, nodeQueueName } from '../../src/queues.js';
import { STEP_CATALOG, stepJob, type Step, type StepHandler, type StepName } from '../../src/step.js';
import { localConfig } from './helpers.js';

const config = localConfig();
const nodes = config.nodes.map((n) => n.name);

/** Every flow pgha builds, for every shape a scenario gives it. */
const flows: [string, { flowId: string; tree: FlowJob }][] = [
  ...nodes.map((n) => [`first-start ${n}`, buildFirstStartFlow(config, n)] as [string, { flowId: string; tree: FlowJob }]),
  ['restart', buildRestartFlow(config, 'node2', 'f-restart')],
  ['planned restart', buildPlannedRestartFlow(config, 'node1', 'f-planned')],
  ['standby heal', buildStandbyHealFlow(config, 'node3', 'node1', 'f-heal')],
  ['after promotion', buildAfterPromotionFlow(config, 'node2', 'f-promoted', ['node1', 'node3'])],
  ['backup', buildBackupFlow(config, 'node1', 'f-backup')],
  ['barman repair, switch with reset', buildBarmanRepairFlow(config, 'node2', 'f-repair-1', { switchFirst: true, reset: true })],
  ['barman repair, backup only', buildBarmanRepairFlow(config, 'node2', 'f-repair-2', { switchFirst: false, reset: false })],
  ['switchover', buildRoleChangeFlow(config, { mode: 'switchover', from: 'node1', to: 'node2', flowId: 'f-sw', followers: nodes })],
  ['failover', buildRoleChangeFlow(config, { mode: 'failover', from: null, to: 'node3', flowId: 'f-fo', followers: nodes })],
  ['detected failover', buildDetectedFailoverFlow(config, { to: 'node2', followers: ['node3'], flowId: 'f-detected', connectTimeoutMs: 750 })],
  ['failover --force', buildRoleChangeFlow(config, { mode: 'failover', from: 'node1', to: 'node3', flowId: 'f-fo-force', followers: nodes, force: true })],
  ['pause', buildMaintenanceFlow(config, 'node1', 'f-pause', { paused: true, by: 'dba@db1', reason: 'kernel upgrade' })],
  ['resume --force', buildMaintenanceFlow(config, 'node2', 'f-resume', { paused: false, by: 'dba@db1', reason: null, force: true })],
  ['reinit', buildReinitFlow(config, 'node3', 'node1', 'f-reinit')],
  ['apply-config, standbys first', buildApplyParametersFlow(config, { flowId: 'f-apply-1', parameters: { shared_buffers: '256MB' }, primary: 'node1', standbys: ['node2', 'node3'], kind: 'standbys-first' })],
  ['apply-config, primary first', buildApplyParametersFlow(config, { flowId: 'f-apply-2', parameters: { max_connections: '50' }, primary: 'node1', standbys: ['node2', 'node3'], kind: 'primary-first' })],
  ['reinit, failover held', buildReinitFlow(config, 'node2', 'node1', 'f-reinit-held', true)],
  ...(
    [
      { kind: 'latest' },
      { kind: 'immediate' },
      { kind: 'time', time: '2026-12-01T10:00:00Z' },
      { kind: 'lsn', lsn: '0/3000060' },
    ] as const
  ).map((t) => [`restore to ${t.kind}`, buildRestoreFlow(config, { target: 'node1', backupId: '20261201T100000', recoveryTarget: t, flowId: `f-restore-${t.kind}`, pauseVia: 'node2' })] as [string, { flowId: string; tree: FlowJob }]),
];

/** The handlers of the worker that consumes `queueName`. */
function handlersOf(queueName: string): Map<string, Step<any>> {
  if (queueName === barmanQueueName(config.cluster)) return barmanSteps;
  if (queueName === controlQueueName(config.cluster)) return controlSteps;
  if (nodes.some((n) => nodeQueueName(config.cluster, n) === queueName)) return nodeSteps;
  throw new Error(`no worker consumes queue ${queueName}`);
}

/** What is wrong with one step of a flow, or null. */
export function stepProblem(job: FlowJob, handlers: (q: string) => Map<string, Step<any>>): string | null {
  const handler = handlers(job.queueName).get(job.name);
  if (!handler) return `step ${job.name} on ${job.queueName}: no handler on that worker`;
  const parsed = handler.schema.safeParse(job.data);
  if (!parsed.success) return `step ${job.name}: its data does not fit its schema: ${parsed.error.issues.map((i: { path: PropertyKey[]; message: string }) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  return null;
}

describe('flow contract: every step of every flow has a handler on its worker and data its schema takes', () => {
  it.each(flows)('%s', (_name, flow) => {
    const steps = flowSteps(flow.tree);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.map((j) => stepProblem(j, handlersOf)).filter((p) => p !== null)).toEqual([]);
  });

  it('fails for a renamed handler and for data a schema refuses (the test is not blind)', () => {
    const [first] = flowSteps(buildRestartFlow(config, 'node2', 'f-x').tree);
    expect(first.name).toBe('decide-and-start');
    const renamed = new Map([...nodeSteps].map(([name, s]) => [name === first.name ? `${name}-renamed` : name, s]));
    expect(stepProblem(first, () => renamed)).toBe(`step ${first.name} on ${first.queueName}: no handler on that worker`);
    const restoreSteps = flowSteps(buildRestoreFlow(config, { target: 'node1', backupId: '20261201T100000', recoveryTarget: { kind: 'latest' }, flowId: 'f-y', pauseVia: 'node2' }).tree);
    const recover = restoreSteps.find((j) => j.name === 'barman-recover')!;
    expect(stepProblem({ ...recover, data: { ...recover.data, backupId: 'latest' } }, handlersOf)).toMatch(/^step barman-recover: its data does not fit its schema: backupId: /);
  });

  it('every handler is reached by some flow or by a scheduler/hook (no handler is dead code)', () => {
    const used = new Set(flows.flatMap(([, f]) => flowSteps(f.tree).map((j) => j.name)));
    // run by BullMQ job schedulers (src/barman/schedules.ts) and repmgr's event hook, not by flows
    for (const n of ['barman-cron', 'barman-backup', 'barman-check', 'barman-reconcile', 'repmgr-event', 'barman-list-backups', 'barman-restore-plan']) used.add(n);
    const handlers = [...nodeSteps.keys(), ...barmanSteps.keys(), ...controlSteps.keys()];
    expect(handlers.filter((h) => !used.has(h))).toEqual([]);
  });

  it('the worker kind of each handler is the catalog\'s, and each handler is defined under its own name', () => {
    for (const [kind, steps] of [['node', nodeSteps], ['barman', barmanSteps], ['control', controlSteps]] as const) {
      for (const [name, step] of steps) {
        expect(STEP_CATALOG[name as StepName].worker).toBe(kind);
        expect(step.name).toBe(name);
        expect(step.schema).toBe(STEP_CATALOG[name as StepName].schema);
      }
    }
    expect(nodeSteps.size + barmanSteps.size + controlSteps.size).toBe(Object.keys(STEP_CATALOG).length);
  });
});

/**
 * What must not compile (never called: tsc checks it when `npm test` starts, and reports an
 * @ts-expect-error whose line compiles). Each line is a way a flow and its handlers drift apart.
 */
export function mustNotCompile(): unknown[] {
  const { promote: _dropped, ...withoutPromote } = handlers;
  return [
    // @ts-expect-error a step the catalog does not have (a renamed or never written handler)
    nodeStep(config, 'node1', 'ensure-follow', { primary: 'node2' }),
    // @ts-expect-error a barman step put on a node's queue
    nodeStep(config, 'node1', 'barman-backup'),
    // @ts-expect-error a node step put on barman's queue
    barmanStep(config, 'node1', 'promote'),
    // @ts-expect-error data its schema refuses: ensure-follows needs the primary to follow
    nodeStep(config, 'node1', 'ensure-follows', {}),
    // @ts-expect-error data of the wrong type
    nodeStep(config, 'node1', 'set-repmgrd-paused', { paused: 'yes' }),
    // @ts-expect-error a field the step does not take
    nodeStep(config, 'node1', 'stop-postgres', { primary: 'node2' }),
    // @ts-expect-error a job added alone with data its schema refuses (repmgr's event without its node id)
    stepJob('repmgr-event', { cluster: 'pgha', event: 'standby_promote', success: true, at: '' }),
    // @ts-expect-error a handler registered under another step's name
    { ...handlers, promote: handlers['rejoin-node'] } satisfies { [K in StepName]: StepHandler<K> },
    // @ts-expect-error a catalog step without a handler
    withoutPromote satisfies { [K in StepName]: StepHandler<K> },
    // @ts-expect-error a barman job run without the data its schema needs (the backup and the target)
    runBarmanJob(config, 'barman-recover', 1000),
    // @ts-expect-error a node's step run on barman's queue
    runBarmanJob(config, 'promote', 1000),
  ];
}
