// The contract between a flow's steps (jobs/) and the flows and workers that use them: the step
// catalog names every step once, with the kind of worker that runs it and the zod schema of its data.
// Flow builders (src/flows/) name steps through it, so a step without a handler, on the wrong kind of
// worker, or given data its schema refuses does not compile; jobs/index.ts must hold one handler per
// entry (also checked by the compiler), and the flow contract test parses every flow's data at run time.
import { z } from 'zod';
import type { ClusterConfig } from './config/schema.js';
import type { Runner } from './exec/runner.js';
import { RestoreTargetSchema } from './barman/restore.js';

/** What every flow step's job data carries: names only, never a secret. */
export const StepDataBase = z.object({
  cluster: z.string().min(1),
  /** The node the step concerns (for barman steps: the primary it backs up). */
  node: z.string().min(1),
  flowId: z.string().min(1),
});

/** Data of a job a scheduler, a hook or a command adds alone (not a step of a flow). */
const ClusterOnly = z.object({ cluster: z.string().min(1) });

/** The kind of worker that consumes a step's queue: a node's, barman's, or the control worker. */
export type WorkerKind = 'node' | 'barman' | 'control';

const on = <W extends WorkerKind, S extends z.ZodType>(worker: W, schema: S) => ({ worker, schema });

/** Every step pgha runs: its worker kind and its data's schema. One entry per handler in jobs/. */
export const STEP_CATALOG = {
  // first start (seed scenarios 1 and 2)
  'check-master-flag': on('node', StepDataBase.extend({ primary: z.string().optional() })),
  'start-technical-port': on('node', StepDataBase),
  'configure-replication': on('node', StepDataBase),
  'create-users': on('node', StepDataBase),
  'create-repmgr-db': on('node', StepDataBase),
  'register-primary': on('node', StepDataBase),
  'restart-consumer-port': on('node', StepDataBase),
  'start-repmgrd': on('node', StepDataBase.extend({ primary: z.string().optional(), restart: z.boolean().default(false) })),
  // primary: the master flag's node, named in messages (the primary now may be another one)
  'wait-primary': on('node', StepDataBase.extend({ primary: z.string(), timeoutSec: z.number().int().positive().default(300) })),
  'standby-clone': on('node', StepDataBase.extend({ primary: z.string() })),
  'start-standby': on('node', StepDataBase.extend({ primary: z.string() })),
  'register-standby': on('node', StepDataBase.extend({ primary: z.string().optional() })),
  // restart, follow, role changes
  'decide-and-start': on('node', StepDataBase),
  'register-node': on('node', StepDataBase),
  /** heal: started by the standby keeper; what it saw is checked again first, the cluster may have moved since. */
  'ensure-follows': on('node', StepDataBase.extend({ primary: z.string(), heal: z.boolean().default(false) })),
  /** maintenance: the operator's maintenance mode (pgha pause/resume), not the flow's own pause; force: resume drops the flows' holds too. */
  'set-repmgrd-paused': on(
    'node',
    StepDataBase.extend({
      paused: z.boolean(),
      maintenance: z.object({ by: z.string().min(1).max(200), reason: z.string().max(500).nullable().default(null) }).optional(),
      force: z.boolean().default(false),
    }),
  ),
  'stop-postgres': on('node', StepDataBase),
  /** pgha config apply: the whole parameters file (names and values as postgresql.conf takes them). */
  'write-parameters': on('node', StepDataBase.extend({ parameters: z.record(z.string(), z.string()) })),
  /** why: what the cluster's history says of the promotion (src/history.ts). */
  promote: on(
    'node',
    StepDataBase.extend({
      force: z.boolean().optional(),
      why: z.enum(['failover', 'switchover']).default('failover'),
      // the detector's failover: how long the promotion rule's read waits for a node (the lost primary) before counting it silent
      connectTimeoutMs: z.number().int().min(200).max(10_000).optional(),
      // started by a node worker's failover detector (recorded as the event pgha_failover_promote)
      detected: z.boolean().default(false),
    }),
  ),
  'rejoin-node': on('node', StepDataBase.extend({ primary: z.string() })),
  // restore
  'install-restored': on('node', StepDataBase),
  'reclone-standby': on('node', StepDataBase.extend({ primary: z.string() })),
  'forget-old-data': on('node', StepDataBase),
  // barman host
  'barman-config': on('barman', StepDataBase),
  'barman-schedule': on('barman', StepDataBase),
  'barman-first-backup': on('barman', StepDataBase),
  'barman-switch-primary': on('barman', StepDataBase.extend({ reset: z.boolean().default(false) })),
  // a step of a flow, and the backup scheduler's job (cluster only)
  'barman-backup': on('barman', ClusterOnly.extend({ node: z.string().optional(), flowId: z.string().optional() })),
  'barman-ready': on('barman', ClusterOnly),
  'barman-recover': on('barman', StepDataBase.extend({ backupId: z.string().regex(/^[0-9]{8}T[0-9]{6}$/), target: RestoreTargetSchema })),
  'barman-cron': on('barman', ClusterOnly),
  'barman-check': on('barman', ClusterOnly),
  'barman-reconcile': on('barman', ClusterOnly),
  'barman-list-backups': on('barman', ClusterOnly),
  'barman-restore-plan': on('barman', ClusterOnly.extend({ switchWal: z.boolean().default(true), backup: z.string().default('latest'), reach: z.boolean().default(false), primary: z.string().optional() })),
  // repmgr's event hook
  'repmgr-event': on('control', ClusterOnly.extend({ nodeId: z.number().int(), event: z.string(), success: z.boolean(), at: z.string() })),
} as const;

export type StepName = keyof typeof STEP_CATALOG;
/** The steps a kind of worker runs. */
export type StepOn<W extends WorkerKind> = { [K in StepName]: (typeof STEP_CATALOG)[K]['worker'] extends W ? K : never }[StepName];
/** Step K's job data as a handler receives it (defaults applied). */
export type StepData<K extends StepName> = z.output<(typeof STEP_CATALOG)[K]['schema']>;
/** Step K's job data as a flow or a caller writes it (fields with defaults may be left out). */
export type StepInput<K extends StepName> = z.input<(typeof STEP_CATALOG)[K]['schema']>;

/** A job of step `name` with `data` as its schema takes it, for a queue's add or a scheduler's template (pure). */
export function stepJob<K extends StepName>(name: K, data: StepInput<K>): { name: K; data: StepInput<K> } {
  return { name, data };
}

/** The steps of one kind of worker (pure): names in catalog order. */
export function stepsOn<W extends WorkerKind>(worker: W): StepOn<W>[] {
  return (Object.keys(STEP_CATALOG) as StepName[]).filter((k) => STEP_CATALOG[k].worker === worker) as StepOn<W>[];
}

export interface StepContext {
  config: ClusterConfig;
  run: Runner;
  log(line: string): Promise<void>;
  progress(percent: number, label: string): Promise<void>;
  signal: AbortSignal;
  jobId: string;
  /** No attempt follows this one if it fails (its last attempt): a step undoes what no retry will finish. */
  finalAttempt: boolean;
  /** Return values of the steps this one depends on (the previous step of a chain), by job key. */
  previous(): Promise<Record<string, any>>;
}

/** What a worker runs for a job named `name`: its data is parsed with `schema` first (workers/runtime.ts). */
export interface Step<S extends z.ZodType = z.ZodType, N extends string = string> {
  name: N;
  schema: S;
  run(ctx: StepContext, data: z.output<S>): Promise<unknown>;
}

/** The handler of catalog step `name`: it gets the step's data parsed by the catalog's schema. */
export type StepHandler<K extends StepName> = Step<(typeof STEP_CATALOG)[K]['schema'], K>;

/** Define the handler of catalog step `name` (jobs/): its schema is the catalog's. */
export function defineStep<K extends StepName>(name: K, handler: { run(ctx: StepContext, data: StepData<K>): Promise<unknown> }): StepHandler<K> {
  return { name, schema: STEP_CATALOG[name].schema, run: handler.run } as StepHandler<K>;
}
