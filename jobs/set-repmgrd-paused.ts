// Pause or resume automatic failover cluster-wide (`repmgr service pause|unpause` reaches every
// node): for a flow's own planned steps (a stop must never be taken for a failure), or for the
// operator's maintenance mode (`pgha pause` / `pgha resume`). Each pause is recorded before it is
// made, so status, the page and the metrics say who holds it; a release unpauses only when no other
// holder is left (src/roles/maintenance.ts).
import { Queue } from 'bullmq';
import { defineStep, type StepContext } from '../src/step.js';
import { readClusterView } from '../src/probe.js';
import { electAfterResume, repmgrdGaveUpAfterSecs } from '../src/roles/promotion.js';
import { answered, type ClusterView } from '../src/roles/view.js';
import { buildRoleChangeFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';
import { pollUntil, WaitTimeout } from '../src/wait.js';
import { setRepmgrdPaused } from '../src/repmgr/actions.js';
import { clearFailoverPause, readFlowRecord, readMaintenance, recordFailoverPause, recordMaintenance } from '../src/flows/registry.js';
import { readPauseHolders } from '../src/status.js';
import { describeHolder, releasePause } from '../src/roles/maintenance.js';
import { redisConnection } from '../src/redis.js';
import { nodeContext } from './context.js';

export default defineStep('set-repmgrd-paused', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const connection = redisConnection(ctx.config.redis);
    const queues = new Map<string, Queue>();
    const queue = (name: string) => queues.get(name) ?? queues.set(name, new Queue(name, { connection })).get(name)!;
    try {
      if (data.paused) {
        const at = new Date().toISOString();
        if (data.maintenance) {
          // a second pgha pause keeps the first one's start: the window began then
          const since = (await readMaintenance(connection, data.cluster))?.since ?? at;
          await recordMaintenance(connection, data.cluster, { by: data.maintenance.by, reason: data.maintenance.reason, since, flowId: data.flowId });
        } else await recordFailoverPause(connection, data.cluster, { flowId: data.flowId, at });
        await setRepmgrdPaused(nc, true);
        await ctx.log(data.maintenance ? `maintenance mode on: automatic failover paused cluster-wide (by ${data.maintenance.by})` : 'automatic failover paused cluster-wide');
        return { paused: true };
      }
      if (data.maintenance) await recordMaintenance(connection, data.cluster, null);
      // this flow's hold goes (another flow's stays: that flow's resume step drops it)
      else await clearFailoverPause(connection, data.cluster, data.flowId);
      const { holders } = await readPauseHolders(connection, data.cluster, queue);
      const release = releasePause(holders, data.maintenance ? { kind: 'maintenance', force: data.force } : { kind: 'flow', flowId: data.flowId });
      // dropped holds, and those of flows that completed (a restore ends without a resume step), go
      for (const h of [...release.dropped, ...holders.filter((x) => x.kind === 'flow' && x.state === 'completed')]) if (h.kind === 'flow') await clearFailoverPause(connection, data.cluster, h.flowId);
      if (release.unpause) {
        await setRepmgrdPaused(nc, false);
        // a hold recorded while this step unpaused (pgha pause, a flow's pause step) wins: paused again
        const after = await readPauseHolders(connection, data.cluster, queue);
        const again = releasePause(after.holders, data.maintenance ? { kind: 'maintenance', force: false } : { kind: 'flow', flowId: data.flowId });
        if (!again.unpause) {
          await setRepmgrdPaused(nc, true);
          await ctx.log(`${again.reason}: a hold came meanwhile, automatic failover paused again`);
          return { paused: true, heldBy: again.heldBy.map(describeHolder) };
        }
      }
      await ctx.log(release.reason);
      const election = release.unpause ? await electIfNoPrimary(ctx, data.flowId) : null;
      return { paused: !release.unpause, heldBy: release.heldBy.map(describeHolder), ...(election ? { election } : {}) };
    } finally {
      for (const q of queues.values()) await q.close();
      connection.disconnect();
    }
  },
});

/**
 * Once repmgrd is unpaused: a primary that died while it was paused is never replaced by repmgrd
 * (its standbys' repmgrd went into degraded monitoring), so pgha holds the election under the one
 * promotion rule (electAfterResume) and starts the failover flow, derived from this step's flow id
 * (a re-run starts nothing new). Returns that flow's id, or null when a primary is there or none may be promoted.
 */
async function electIfNoPrimary(ctx: StepContext, stepFlowId: string): Promise<{ flowId: string; node: string } | null> {
  const gaveUp = repmgrdGaveUpAfterSecs(ctx.config.repmgr);
  let view: ClusterView | undefined;
  const d = await pollUntil(
    'repmgrd elects by itself or gave up',
    async () => {
      view = await readClusterView(ctx.config);
      const e = electAfterResume(view, gaveUp);
      return e.action === 'wait' ? undefined : e;
    },
    { timeoutMs: (gaveUp + 15) * 1000, everyMs: 1000, signal: ctx.signal },
  ).catch((err: Error) => (err instanceof WaitTimeout ? ({ action: 'none', reason: `no decision within ${gaveUp + 15} s: ${err.message}` } as const) : Promise.reject(err)));
  await ctx.log(`election after the resume: ${d.reason}`);
  if (d.action !== 'promote') return null;
  // one election per resume: a re-run of this step after a crash, even one that would pick another node, starts nothing new
  const flowId = `${stepFlowId}-elect`;
  const connection = redisConnection(ctx.config.redis);
  const started = await readFlowRecord(connection, ctx.config.cluster, flowId).finally(() => connection.disconnect());
  if (started) {
    await ctx.log(`election flow ${flowId} already started (${started.createdAt})`);
    return { flowId, node: started.steps.find((st) => st.step === 'promote')?.queueName.split('.').at(-1) ?? d.node };
  }
  const followers = view!.nodes.filter((n) => answered(n) && !n.writable).map((n) => n.name);
  await startFlow(ctx.config.redis, buildRoleChangeFlow(ctx.config, { mode: 'failover', from: null, to: d.node, flowId, followers }), 'failover');
  await ctx.log(`started flow ${flowId}: ${d.node} is promoted, the others follow it`);
  return { flowId, node: d.node };
}
