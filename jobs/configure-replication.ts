// Step 3 (primary): replication and backup settings in pgha.conf, then a restart to load them.
import { defineStep } from '../src/step.js';
import { ensureRunningOn, postmasterStatus, renderNodeFiles, writeNodePassfile } from '../src/postgres/actions.js';
import { nodePaths } from '../src/config/paths.js';
import { nodeContext } from './context.js';

export default defineStep('configure-replication', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const changed = renderNodeFiles(nc, { replication: true });
    writeNodePassfile(nc);
    const running = postmasterStatus(nodePaths(ctx.config, nc.node).dataDir);
    // restart where it runs now: the technical port during first start, the consumer port on a rerun
    const port = running?.port ?? ctx.config.postgres.technicalPort;
    await ctx.progress(50, changed ? 'settings changed: restart' : 'settings unchanged');
    const outcome = await ensureRunningOn(nc, port, changed);
    await ctx.log(changed ? `replication settings written, PostgreSQL ${outcome} on port ${port}` : 'replication settings already in place');
    return { changed, port };
  },
});
