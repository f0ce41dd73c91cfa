// Enqueue flow trees and follow them until they finish (used by the CLI and local mode).
import { FlowProducer, Queue, type FlowJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { flowSteps } from './chain.js';

export async function enqueueFlow(connection: Redis, tree: FlowJob): Promise<void> {
  const producer = new FlowProducer({ connection });
  try {
    // ids are deterministic: a flow that is already there is left as it is
    await producer.add(tree);
  } finally {
    await producer.close();
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
  state: string;
  attemptsMade: number;
  failedReason?: string;
  durationMs?: number;
  returnValue?: unknown;
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
        for (const s of flowSteps(tree)) {
          const jobId = s.opts!.jobId!;
          const job = await queue(s.queueName).getJob(jobId);
          const state = job ? await job.getState() : 'missing';
          const st: StepState = {
            flowId,
            step: s.name,
            queueName: s.queueName,
            jobId,
            state,
            attemptsMade: job?.attemptsMade ?? 0,
            failedReason: job?.failedReason,
            durationMs: job?.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : undefined,
            returnValue: job?.returnvalue,
          };
          states.push(st);
          if (state === 'completed' && !reported.has(jobId)) {
            reported.add(jobId);
            opts.onStep?.(st);
          }
        }
      }
      const failed = states.find((s) => s.state === 'failed' || (opts.failFast && s.state !== 'completed' && s.attemptsMade > 0 && s.failedReason));
      if (failed) return { ok: false, failed, states };
      if (states.every((s) => s.state === 'completed')) return { ok: true, states };
      if (Date.now() > deadline) {
        const pending = states.find((s) => s.state !== 'completed')!;
        return { ok: false, failed: { ...pending, failedReason: `still ${pending.state} after the time limit` }, states };
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 300));
    }
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
  }
}
