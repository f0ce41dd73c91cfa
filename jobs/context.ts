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
    // cancelled while the step was doing something else: a polling loop must stop at its next sleep
    if (signal?.aborted) return reject(new Error('cancelled'));
    const cancel = () => {
      clearTimeout(t);
      reject(new Error('cancelled'));
    };
    // removed when the sleep ends: a polling step would otherwise pile one listener per turn on its signal
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', cancel);
      resolve();
    }, ms);
    signal?.addEventListener('abort', cancel, { once: true });
  });
