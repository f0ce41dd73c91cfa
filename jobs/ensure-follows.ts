// After a promotion or switchover, or when the standby keeper heals a standby: it streams from the
// primary (follows it if not; rewinds or re-clones when it cannot).
import { defineStep } from '../src/step.js';
import { findNode, nodePaths } from '../src/config/paths.js';
import { postmasterStatus } from '../src/postgres/actions.js';
import { ensureFollows } from '../src/roles/node.js';
import { buildRestartFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';
import { readClusterView } from '../src/probe.js';
import { answered, majorityPrimary, roleOf } from '../src/roles/view.js';
import { nodeContext } from './context.js';

export default defineStep('ensure-follows', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    if (!postmasterStatus(nodePaths(ctx.config, nc.node).dataDir)) {
      // this node's worker runs this step, so nothing else would start it: its restart decision does
      // (read-only as a standby, or a rejoin), once per flow
      const flowId = `${data.flowId}-restart`;
      await startFlow(ctx.config.redis, buildRestartFlow(ctx.config, nc.node.name, flowId), 'restart');
      await ctx.log(`${nc.node.name} is down: its restart flow ${flowId} starts it and makes it follow ${data.primary}`);
      return { result: 'down', restartFlow: flowId };
    }
    if (data.heal) {
      const view = await readClusterView(ctx.config);
      const primary = majorityPrimary(view)?.name ?? null;
      const role = roleOf(view, nc.node.name);
      const why =
        primary !== data.primary ? `the primary seen with a majority is now ${primary ?? 'none'}, not ${data.primary}`
        : view.nodes.some((n) => answered(n) && n.repmgrdPaused) ? 'repmgrd is paused: an operation is in progress'
        : role !== 'standby' ? `${nc.node.name} is ${role}, not a standby`
        : null;
      if (why) {
        await ctx.log(`heal of ${nc.node.name} skipped: ${why} (the standby keeper looks again)`);
        return { result: 'skipped', reason: why };
      }
    }
    return { result: await ensureFollows(nc, findNode(ctx.config, data.primary)) };
  },
});
