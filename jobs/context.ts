// Shared by the step files: the node a step concerns, as a NodeContext for the actions.
import { UnrecoverableError } from 'bullmq';
import { findNode } from '../src/config/paths.js';
import type { NodeContext } from '../src/postgres/actions.js';
import type { StepContext } from '../src/step.js';
import { buildRestartFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';
import { readMaintenance } from '../src/flows/registry.js';
import { redisConnection } from '../src/redis.js';
import { recordPromotion, type PromotionRecord } from '../src/history.js';
import { setRepmgrdPaused } from '../src/repmgr/actions.js';

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

/**
 * Before a step starts repmgrd on a node whose PostgreSQL restarted: while maintenance mode is on,
 * pause repmgrd again (the pause lives in PostgreSQL's shared memory, so a restart forgot it), so
 * the new repmgrd never acts on a failure inside the window. The standby keeper does the same for
 * nodes restarted outside any step, within KEEPER_EVERY_MS.
 */
export async function keepMaintenancePause(ctx: StepContext, nc: NodeContext): Promise<void> {
  const connection = redisConnection(ctx.config.redis);
  try {
    const maintenance = await readMaintenance(connection, ctx.config.cluster);
    if (!maintenance) return;
    await setRepmgrdPaused(nc, true);
    await ctx.log(`maintenance mode (by ${maintenance.by} since ${maintenance.since}): repmgrd paused again before it starts`);
  } finally {
    connection.disconnect();
  }
}

/**
 * Write a promotion to the cluster's history (src/history.ts): the timeline it took, who, why. Best
 * effort: the promotion happened whatever Redis says, and a step must never fail (or undo a restore)
 * for want of its history line; a miss is logged, and `pgha history` lists the timeline as not recorded.
 */
export async function notePromotion(ctx: StepContext, record: PromotionRecord): Promise<void> {
  const connection = redisConnection(ctx.config.redis);
  connection.on('error', () => {});
  try {
    await recordPromotion(connection, ctx.config.cluster, record);
  } catch (err) {
    await ctx.log(`history: timeline ${record.timeline} (${record.why} of ${record.node}) not recorded: ${(err as Error).message}`).catch(() => {});
  } finally {
    connection.disconnect();
  }
}
