// Shared by the step files: the node a step concerns, as a NodeContext for the actions.
import { UnrecoverableError } from 'bullmq';
import { findNode } from '../src/config/paths.js';
import type { NodeContext } from '../src/postgres/actions.js';
import type { StepContext } from '../src/step.js';
import { buildRestartFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';

export function nodeContext(ctx: StepContext, nodeName: string): NodeContext {
  let node;
  try {
    node = findNode(ctx.config, nodeName);
  } catch (err) {
    throw new UnrecoverableError(`${(err as Error).message}; this worker's pgha.yaml does not match the flow's`);
  }
  return { config: ctx.config, node, run: ctx.run, log: (l) => ctx.log(l), signal: ctx.signal };
}

/**
 * A restore that no retry can finish goes back: every node gets its restart flow (decide-and-start on
 * the data directory it has), so the nodes the restore stopped run again in their former roles
 * instead of staying down until someone notices. Flow ids are derived from the restore's: enqueueing
 * twice (a re-run after a crash) starts nothing new. Returns the flow ids.
 */
export async function restartEveryNode(ctx: StepContext, restoreFlowId: string): Promise<string[]> {
  const ids: string[] = [];
  for (const n of ctx.config.nodes) {
    const id = `${restoreFlowId}-way-back-${n.name}`;
    await startFlow(ctx.config.redis, buildRestartFlow(ctx.config, n.name, id), 'restart');
    ids.push(id);
  }
  await ctx.log(`way back: every node restarts on the data it had (flows ${ids.join(', ')})`);
  return ids;
}
