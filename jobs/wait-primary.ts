// Standby step 2: wait (bounded) until one node takes writes on its consumer port: the master at the
// cluster's first start; whichever node is the primary now when a node is added later.
import { defineStep } from '../src/step.js';
import { readNodes } from '../src/status.js';
import { sleep } from '../src/wait.js';
import { nodeQueueName } from '../src/queues.js';

export default defineStep('wait-primary', {
  async run(ctx, data) {
    const deadline = Date.now() + data.timeoutSec * 1000;
    let seen = '';
    let tries = 0;
    while (Date.now() < deadline) {
      tries++;
      const nodes = await readNodes(ctx.config);
      const primary = nodes.find((n) => n.role === 'primary');
      if (primary) {
        await ctx.log(`primary ${primary.name} answers on ${primary.host}:${primary.port} after ${tries} tries`);
        return { tries, primary: primary.name };
      }
      seen = nodes.map((n) => `${n.name} ${n.role}${n.error ? ` (${n.error})` : ''}`).join(', ');
      if (tries === 1 || tries % 40 === 0) {
        await ctx.log(`waiting for a primary: ${seen}`);
        await ctx.progress(Math.min(99, Math.round((100 * (Date.now() - deadline + data.timeoutSec * 1000)) / (data.timeoutSec * 1000))), 'waiting for the primary');
      }
      // a short poll: standbys clone as soon as the primary opens its consumer port
      await sleep(250, ctx.signal);
    }
    throw new Error(
      `no node took writes within ${data.timeoutSec} s (${seen}); at the first start check ${data.primary}'s first-start flow on queue ${nodeQueueName(ctx.config.cluster, data.primary)}, then retry this step`,
    );
  },
});
