// Shared by the step files: the node a step concerns, as a NodeContext for the actions.
import { UnrecoverableError } from 'bullmq';
import { findNode } from '../src/config/paths.js';
import type { NodeContext } from '../src/postgres/actions.js';
import type { StepContext } from '../src/step.js';

export function nodeContext(ctx: StepContext, nodeName: string): NodeContext {
  let node;
  try {
    node = findNode(ctx.config, nodeName);
  } catch (err) {
    throw new UnrecoverableError(`${(err as Error).message}; this worker's pgha.yaml does not match the flow's`);
  }
  return { config: ctx.config, node, run: ctx.run, log: (l) => ctx.log(l) };
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('cancelled'));
    }, { once: true });
  });
