// Enqueue flow trees and follow them until they finish (used by the CLI and local mode).
import { FlowProducer, Queue, type FlowJob } from 'bullmq';
import { sleep } from '../wait.js';
import type { Redis } from 'ioredis';
import { flowSteps } from './chain.js';
import { flowRecord, recordFlow, type FlowRecord } from './registry.js';
import type { RedisSettings } from '../config/schema.js';
import { redisConnection } from '../redis.js';

/** Enqueue a flow and record it (the API and the cluster page find flows by their record). */
export async function enqueueFlow(connection: Redis, flow: { flowId: string; tree: FlowJob }, scenario: string): Promise<void> {
  const producer = new FlowProducer({ connection });
  try {
    // ids are deterministic: a flow that is already there is left as it is
    await producer.add(flow.tree);
    // recorded once its jobs exist: whoever finds the record (local start, the API, the nemesis
    // checker) reads every step's state, and a record read before the jobs were added showed them
    // 'missing', which reads as failed (the step-crash suite hit it)
    await recordFlow(connection, String(flow.tree.data.cluster), flowRecord(flow.flowId, scenario, flow.tree));
  } finally {
    await producer.close();
  }
}

/** Enqueue a flow on a connection of its own (a worker starting a flow and not following it). */
export async function startFlow(redis: RedisSettings, flow: { flowId: string; tree: FlowJob }, scenario: string): Promise<void> {
  const connection = redisConnection(redis);
  try {
    await enqueueFlow(connection, flow, scenario);
  } finally {
    connection.disconnect();
  }
}

/** Retry the steps of these flows that failed for good; the flow then continues from there. */
export async function retryFailedSteps(connection: Redis, flows: { tree: FlowJob }[]): Promise<string[]> {
  const retried: string[] = [];
  for (const { tree } of flows) {
    for (const s of flowSteps(tree)) {
      const queue = new Queue(s.queueName, { connection });
      try {
        const job = await queue.getJob(s.opts!.jobId!);
        if (job && (await job.getState()) === 'failed') {
          await job.retry('failed');
          retried.push(`${s.queueName} ${s.name}`);
        }
      } finally {
        await queue.close();
      }
    }
  }
  return retried;
}

export interface StepState {
  flowId: string;
  step: string;
  queueName: string;
  jobId: string;
  /** BullMQ's state, or 'missing' when the job is gone from its queue. */
  state: string;
  attemptsMade: number;
  /** What the step last reported (job.updateProgress): { percent, label } or a number. */
  progress?: unknown;
  failedReason?: string;
  durationMs?: number;
  returnValue?: unknown;
}

/** The live state of each of a flow's steps. */
export async function readStepStates(
  queue: (name: string) => Queue,
  flowId: string,
  steps: { step: string; queueName: string; jobId: string }[],
): Promise<StepState[]> {
  return Promise.all(
    steps.map(async (s) => {
      // the state before the job's data: a step that fails between the two reads then still shows its
      // failedReason (read the other way round, a watcher once saw 'failed' without a reason)
      const q = queue(s.queueName);
      const state = await q.getJobState(s.jobId);
      const job = state === 'unknown' ? undefined : await q.getJob(s.jobId);
      return {
        flowId,
        step: s.step,
        queueName: s.queueName,
        jobId: s.jobId,
        state: job ? state : 'missing',
        attemptsMade: job?.attemptsMade ?? 0,
        progress: job?.progress,
        failedReason: job?.failedReason || undefined,
        durationMs: job?.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : undefined,
        returnValue: job?.returnvalue ?? undefined,
      };
    }),
  );
}

/** One word for a whole flow from its steps (pure). */
export function flowState(states: { state: string }[]): 'completed' | 'failed' | 'running' | 'waiting' {
  if (states.some((s) => s.state === 'failed' || s.state === 'missing')) return 'failed';
  if (states.every((s) => s.state === 'completed')) return 'completed';
  // delayed: a step waiting for its next attempt
  if (states.some((s) => s.state === 'active' || s.state === 'completed' || s.state === 'delayed')) return 'running';
  return 'waiting';
}

export interface WatchResult {
  ok: boolean;
  failed?: StepState;
  states: StepState[];
}

/** Poll the flows' jobs; report each step as it completes; stop when all are done or one failed for good. */
export async function watchFlows(
  connection: Redis,
  flows: { flowId: string; tree: FlowJob }[],
  /** failFast: a step's first failed attempt ends the watch (its retries go on in the background). */
  opts: { onStep?: (s: StepState) => void; timeoutMs?: number; pollMs?: number; failFast?: boolean } = {},
): Promise<WatchResult> {
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    if (!queues.has(name)) queues.set(name, new Queue(name, { connection }));
    return queues.get(name)!;
  };
  const reported = new Set<string>();
  const deadline = Date.now() + (opts.timeoutMs ?? 15 * 60_000);
  try {
    for (;;) {
      const states: StepState[] = [];
      for (const { flowId, tree } of flows) {
        const steps = flowSteps(tree).map((s) => ({ step: s.name, queueName: s.queueName, jobId: s.opts!.jobId! }));
        for (const st of await readStepStates(queue, flowId, steps)) {
          states.push(st);
          if (st.state === 'completed' && !reported.has(st.jobId)) {
            reported.add(st.jobId);
            opts.onStep?.(st);
          }
        }
      }
      // a job removed from its queue (by hand from the dashboard, or trimmed) never completes
      for (const s of states) if (s.state === 'missing') s.failedReason = `job ${s.jobId} is gone from ${s.queueName} (removed or trimmed); enqueue the flow again`;
      const failed = states.find((s) => s.state === 'failed' || s.state === 'missing' || (opts.failFast && s.state !== 'completed' && s.attemptsMade > 0 && s.failedReason));
      if (failed) return { ok: false, failed, states };
      if (states.every((s) => s.state === 'completed')) return { ok: true, states };
      if (Date.now() > deadline) {
        const pending = states.find((s) => s.state !== 'completed')!;
        return { ok: false, failed: { ...pending, failedReason: `still ${pending.state} after the time limit` }, states };
      }
      await sleep(opts.pollMs ?? 300);
    }
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
  }
}

export interface FlowSummary {
  flowId: string;
  scenario: string;
  createdAt: string;
  state: ReturnType<typeof flowState>;
  /** The step running or next to run; for a failed flow, the failed step. */
  currentStep: string | null;
  done: number;
  total: number;
  steps: StepState[];
}

/** A flow's summary from its steps' states (pure). */
export function summarizeFlow(record: FlowRecord, states: StepState[]): FlowSummary {
  const state = flowState(states);
  const current = states.find((s) => s.state === 'failed' || s.state === 'missing') ?? states.find((s) => s.state !== 'completed');
  return {
    flowId: record.flowId,
    scenario: record.scenario,
    createdAt: record.createdAt,
    state,
    currentStep: current?.step ?? null,
    done: states.filter((s) => s.state === 'completed').length,
    total: states.length,
    steps: states,
  };
}

