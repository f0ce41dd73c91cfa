// A sequential flow as a BullMQ tree: each step is the child of the next, so the first step is
// the deepest leaf and runs first; the last step is the root and completes the flow.
import type { FlowJob } from 'bullmq';
import type { ClusterConfig } from '../config/schema.js';
import { findNode } from '../config/paths.js';
import { barmanQueueName, nodeQueueName } from '../queues.js';
import type { StepInput, StepName, StepOn } from '../step.js';

export interface PlannedStep {
  step: string;
  /** Id of the step in its flow when one step name appears more than once (default: the name). */
  id?: string;
  backoff?: { type: string; delay?: number };
  queueName: string;
  data: Record<string, unknown>;
  attempts?: number;
}

/** What a flow gives step K beyond the cluster, the node and the flow id (those three are filled in). */
type Extra<K extends StepName> = Omit<StepInput<K>, 'cluster' | 'node' | 'flowId'>;
/** The extra data argument: required when the step needs some, optional (and empty) when it takes none. */
type ExtraArgs<K extends StepName> = keyof Extra<K> extends never
  ? [extra?: Record<string, never>, opts?: StepOptions]
  : {} extends Extra<K> ? [extra?: Extra<K>, opts?: StepOptions] : [extra: Extra<K>, opts?: StepOptions];
type StepOptions = Pick<PlannedStep, 'id' | 'attempts' | 'backoff'>;

/**
 * Step `step` of a flow on node `node`'s queue, with `extra` data: only a catalog step that a node's
 * worker runs, with the data its schema takes, compiles (src/step.ts). Throws when `node` is not in
 * the config (a caller's mistake: no retry helps).
 */
export function nodeStep<K extends StepOn<'node'>>(config: ClusterConfig, node: string, step: K, ...[extra, opts]: ExtraArgs<K>): PlannedStep {
  const name = findNode(config, node).name;
  return { step, ...opts, queueName: nodeQueueName(config.cluster, name), data: { cluster: config.cluster, node: name, ...extra } };
}

/** Step `step` on barman's queue, about node `node` (the primary it backs up or restores): as nodeStep. */
export function barmanStep<K extends StepOn<'barman'>>(config: ClusterConfig, node: string, step: K, ...[extra, opts]: ExtraArgs<K>): PlannedStep {
  return { step, ...opts, queueName: barmanQueueName(config.cluster), data: { cluster: config.cluster, node: findNode(config, node).name, ...extra } };
}

export const STEP_DEFAULTS = { attempts: 3, backoff: { type: 'exponential' as const, delay: 2000 } };

/** For steps that wait for the cluster to change (a refused restart): 2 s doubling, at most 30 s apart. */
export const CAPPED_BACKOFF = { type: 'capped' };

/** The delay before retry `attemptsMade` of a 'capped' step (pure; workers register it). */
export function cappedBackoff(attemptsMade: number): number {
  return Math.min(2000 * 2 ** Math.max(0, attemptsMade - 1), 30_000);
}

/** `<flowId>-<step>`: deterministic, so enqueueing the same flow twice adds nothing. No ':' (BullMQ). */
export const stepJobId = (flowId: string, step: string) => `${flowId}-${step}`;

export function chainFlow(flowId: string, steps: PlannedStep[]): FlowJob {
  if (steps.length === 0) throw new Error('a flow needs at least one step');
  if (flowId.includes(':')) throw new Error(`flow id "${flowId}" must not contain ':'`);
  let tree: FlowJob | undefined;
  for (const s of steps) {
    const job: FlowJob = {
      name: s.step,
      queueName: s.queueName,
      data: { ...s.data, flowId },
      opts: {
        jobId: stepJobId(flowId, s.id ?? s.step),
        attempts: s.attempts ?? STEP_DEFAULTS.attempts,
        backoff: s.backoff ?? STEP_DEFAULTS.backoff,
        removeOnComplete: false,
        removeOnFail: false,
      },
      children: tree ? [tree] : undefined,
    };
    tree = job;
  }
  return tree!;
}

/** The steps of a flow tree in the order they run (deepest first). */
export function flowSteps(tree: FlowJob): FlowJob[] {
  const out: FlowJob[] = [];
  let cur: FlowJob | undefined = tree;
  while (cur) {
    out.unshift(cur);
    cur = cur.children?.[0];
  }
  return out;
}
