// Planned operations: pause repmgrd cluster-wide so a planned stop is never taken for a failure. The
// flow that paused it is recorded before the pause and cleared after the resume, so that a flow that
// fails in between leaves a loud, named reason in status, on the page and in the metrics.
import { defineStep } from '../src/step.js';
import { setRepmgrdPaused } from '../src/repmgr/actions.js';
import { readFailoverPause, recordFailoverPause } from '../src/flows/registry.js';
import { redisConnection } from '../src/redis.js';
import { nodeContext } from './context.js';

export default defineStep('set-repmgrd-paused', {
  async run(ctx, data) {
    const connection = redisConnection(ctx.config.redis);
    try {
      if (data.paused) await recordFailoverPause(connection, data.cluster, { flowId: data.flowId, at: new Date().toISOString() });
      await setRepmgrdPaused(nodeContext(ctx, data.node), data.paused);
      // another flow's record (it paused after this one) is that flow's to clear
      if (!data.paused && [null, data.flowId].includes((await readFailoverPause(connection, data.cluster))?.flowId ?? null)) await recordFailoverPause(connection, data.cluster, null);
    } finally {
      connection.disconnect();
    }
    await ctx.log(`automatic failover ${data.paused ? 'paused' : 'resumed'} cluster-wide`);
    return { paused: data.paused };
  },
});
