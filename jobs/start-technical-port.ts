// Step 2 (primary): initdb when needed, then start on the technical port so no client connects yet.
import { defineStep } from '../src/step.js';
import { UnrecoverableError } from 'bullmq';
import { ensureNodeDirs, ensureRunningOn, initdbIfNeeded, isInitialised, postmasterStatus, renderNodeFiles } from '../src/postgres/actions.js';
import { firstStartProblem } from '../src/roles/decide.js';
import { readClusterView } from '../src/probe.js';
import { nodePaths } from '../src/config/paths.js';
import { nodeContext } from './context.js';

export default defineStep('start-technical-port', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const { port, technicalPort } = ctx.config.postgres;
    const running = postmasterStatus(nodePaths(ctx.config, nc.node).dataDir);
    if (running?.port === port) {
      // a rerun after the flow finished: the node already serves clients, leave it alone
      await ctx.log(`PostgreSQL already runs on the consumer port ${port}: nothing to do`);
      return { port };
    }
    ensureNodeDirs(nc);
    if (!isInitialised(nodePaths(ctx.config, nc.node).dataDir)) {
      const problem = firstStartProblem(nc.node.name, await readClusterView(ctx.config));
      if (problem) throw new UnrecoverableError(`first start of ${nc.node.name} refused, nothing was created: ${problem}`);
    }
    await ctx.progress(20, 'initdb');
    await initdbIfNeeded(nc);
    renderNodeFiles(nc, { replication: false });
    await ctx.progress(60, `start on technical port ${technicalPort}`);
    await ensureRunningOn(nc, technicalPort);
    return { port: technicalPort };
  },
});
