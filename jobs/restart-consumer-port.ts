// Step 9 (primary): restart on the consumer port; from now on clients and standbys connect.
import { defineStep } from '../src/step.js';
import { ensureRunningOn } from '../src/postgres/actions.js';
import { writeRepmgrConf } from '../src/repmgr/actions.js';
import { nodeContext } from './context.js';

export default defineStep('restart-consumer-port', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    writeRepmgrConf(nc);
    await ctx.progress(50, `restart on port ${ctx.config.postgres.port}`);
    const outcome = await ensureRunningOn(nc, ctx.config.postgres.port);
    return { outcome, port: ctx.config.postgres.port };
  },
});
