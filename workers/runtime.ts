// What every worker shares: consume one queue, dispatch each job to its
// step with a parsed payload, a logging command runner and the job's AbortSignal; stop on SIGTERM.
import { readFileSync, rmSync } from 'node:fs';
import { UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import { z } from 'zod';
import { secretsOf } from '../src/config/load.js';
import type { ClusterConfig } from '../src/config/schema.js';
import { Runner } from '../src/exec/runner.js';
import { redisConnection } from '../src/redis.js';
import type { Step, StepContext } from '../src/step.js';
import { createLogger } from '../src/logger.js';
import { CAPPED_BACKOFF, cappedBackoff } from '../src/flows/chain.js';

export interface WorkerSpec {
  role: string;
  queueName: string;
  steps: Map<string, Step<any>>;
  concurrency: number;
}

/** A step's progress as stored on its job (pure). */
export function stepProgress(percent: number, label: string): { progress: number; label: string } {
  return { progress: Math.max(0, Math.min(100, Math.round(percent))), label };
}

/**
 * Fault injection for the crash-safety suite (bench/chaos/steps.ts), off unless PGHA_CRASH_POINT_FILE
 * is set: when that file holds {"jobId": J, "logLine": N} (J may hold `*` wildcards), the worker removes the file and kills itself
 * (SIGKILL: no clean-up, no lock released) right after job J's N-th log line of an attempt (line 1 is
 * "step … attempt …"; a command logs "$ …" before it runs and "→ exit …" after). Log lines are where a
 * step's effects begin and end, so every N is a distinct point between two effects.
 */
/** A crash point's job id: exact, or with `*` for any text (a flow a worker starts by itself has an id made when it starts). */
const jobIdMatches = (pattern: string, jobId: string) =>
  pattern.includes('*') ? new RegExp(`^${pattern.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(jobId) : pattern === jobId;

export function crashPoint(file = process.env.PGHA_CRASH_POINT_FILE): (jobId: string, line: number) => void {
  if (!file) return () => {};
  return (jobId, line) => {
    let point: { jobId?: string; logLine?: number };
    try {
      point = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return;
    }
    if (!point.jobId || !jobIdMatches(point.jobId, jobId) || point.logLine !== line) return;
    rmSync(file, { force: true });
    process.kill(process.pid, 'SIGKILL');
  };
}

export function makeProcessor(config: ClusterConfig, steps: Map<string, Step<any>>) {
  const runner = new Runner(secretsOf(config));
  const crash = crashPoint();
  return async (job: Job, _token?: string, signal?: AbortSignal) => {
    let lines = 0;
    const step = steps.get(job.name);
    if (!step) throw new UnrecoverableError(`no step named "${job.name}" on this worker; is the worker older than the flow?`);
    const parsed = step.schema.safeParse(job.data);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i: z.core.$ZodIssue) => `${i.path.join('.') || '(data)'}: ${i.message}`).join('; ');
      throw new UnrecoverableError(`job data of step ${job.name} is invalid: ${why}`);
    }
    const log = async (line: string) => {
      await job.log(runner.redact(line));
      crash(job.id ?? '', ++lines);
    };
    const ctx: StepContext = {
      config,
      run: runner.withLog(log, signal),
      log,
      progress: async (percent, label) => {
        // { progress, label }: Bull Board draws the bar from `progress` and shows the label in the job's Progress tab
        await job.updateProgress(stepProgress(percent, label));
        await log(`[${Math.round(percent)}%] ${label}`);
      },
      signal: signal ?? new AbortController().signal,
      jobId: job.id ?? '',
      finalAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
      previous: () => job.getChildrenValues(),
    };
    await log(`step ${job.name} attempt ${job.attemptsMade + 1} on pid ${process.pid}`);
    await job.updateProgress(stepProgress(0, `attempt ${job.attemptsMade + 1} started`));
    const result = await step.run(ctx, parsed.data);
    await job.updateProgress(stepProgress(100, 'done'));
    return result;
  };
}

/** BullMQ worker options of every pgha worker. */
export function workerOptions(config: ClusterConfig, concurrency: number): WorkerOptions {
  return {
    connection: redisConnection(config.redis),
    concurrency,
    // a worker killed mid-step: its job is picked up again soon after the worker restarts
    lockDuration: 15_000,
    stalledInterval: 5_000,
    maxStalledCount: 3,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string) => {
        if (type === CAPPED_BACKOFF.type) return cappedBackoff(attemptsMade);
        throw new Error(`unknown backoff type ${type}`);
      },
    },
  };
}

/** How long SIGTERM waits for the running step before cancelling it (its command is killed, the step is retried later). */
export const SHUTDOWN_GRACE_MS = Number(process.env.PGHA_SHUTDOWN_GRACE_MS ?? 20_000);

/** A running worker: `stop` takes no new step, waits SHUTDOWN_GRACE_MS for the running one, then cancels it. */
export interface RunningWorker {
  worker: Worker;
  stop(reason: string): Promise<void>;
}

/** A process's long-running part as its entry point sees it: `ready` settles once it started (or could not), `stop` ends it. */
export interface Service {
  ready: Promise<void>;
  stop(reason: string): Promise<void>;
}

/**
 * Consume `spec.queueName` with `spec.steps` under a resolved config. The caller owns the process:
 * stopping on a signal and exiting are the entry point's (cli/), so tests and benches can run a worker
 * in their own process.
 */
export function startWorker(config: ClusterConfig, spec: WorkerSpec): RunningWorker {
  const logger = createLogger(spec.role);
  const worker = new Worker(spec.queueName, makeProcessor(config, spec.steps), workerOptions(config, spec.concurrency));
  worker.on('active', (job) => logger.info(`start ${job.name} (${job.id})`));
  worker.on('completed', (job) => logger.info(`done ${job.name} (${job.id})`));
  worker.on('failed', (job, err) => logger.warn(`failed ${job?.name} (${job?.id}) attempt ${job?.attemptsMade}: ${err.message}`));
  worker.on('error', (err) => logger.error(`worker error: ${err.message}`));
  let stopping: Promise<void> | undefined;
  const stop = (reason: string) =>
    (stopping ??= (async () => {
      logger.info(`${reason}: no new steps; waiting up to ${SHUTDOWN_GRACE_MS} ms for the running one`);
      const grace = setTimeout(() => {
        // the step's AbortSignal fires: its command is killed and the step is retried later
        logger.warn('grace period over: cancelling the running step');
        worker.cancelAllJobs(`worker stopped by ${reason}`);
      }, SHUTDOWN_GRACE_MS);
      await worker.close();
      clearTimeout(grace);
      logger.info('stopped');
    })());
  logger.info(`${spec.role} worker pid ${process.pid} consumes ${spec.queueName}`);
  return { worker, stop };
}
