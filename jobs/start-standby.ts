// Standby step 4: this node's own settings over the cloned ones, start on the consumer port, and
// check that it streams from the primary.
import { defineStep } from '../src/step.js';
import { startAsStandby, waitStreaming } from '../src/roles/node.js';
import { nodeContext } from './context.js';

export default defineStep('start-standby', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    await ctx.progress(30, 'start as standby');
    await startAsStandby(nc);
    const upstream = await waitStreaming(nc, null);
    await ctx.log(`${nc.node.name} streams from ${upstream}`);
    return { streaming: true, upstream };
  },
});
