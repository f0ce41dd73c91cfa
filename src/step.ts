// The contract between a flow's steps (jobs/) and the workers that run them.
import { z } from 'zod';
import type { ClusterConfig } from './config/schema.js';
import type { Runner } from './exec/runner.js';

/** What every step's job data carries: names only, never a secret. */
export const StepDataBase = z.object({
  cluster: z.string().min(1),
  /** The node the step concerns (for barman steps: the primary it backs up). */
  node: z.string().min(1),
  flowId: z.string().min(1),
});
export type StepData = z.infer<typeof StepDataBase>;

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

export interface Step<S extends z.ZodType = z.ZodType> {
  name: string;
  schema: S;
  run(ctx: StepContext, data: z.infer<S>): Promise<unknown>;
}

export function defineStep<S extends z.ZodType>(step: Step<S>): Step<S> {
  return step;
}
