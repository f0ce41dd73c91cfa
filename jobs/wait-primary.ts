// Standby step 2: wait (bounded) until one node takes writes on its consumer port: the master at the
// cluster's first start; whichever node is the primary now when a node is added later.
import { defineStep } from '../src/step.js';
import { readNodes } from '../src/status.js';
import { pollUntil } from '../src/wait.js';
import { nodeQueueName } from '../src/queues.js';

export default defineStep('wait-primary', {
  async run(ctx, data) {
    const started = Date.now();
    const timeoutMs = data.timeoutSec * 1000;
    let seen = '';
    let tries = 0;
    const primary = await pollUntil(
      'a node takes writes',
      async () => {
        tries++;
        const nodes = await readNodes(ctx.config);
        const writable = nodes.find((n) => n.role === 'primary');
        if (writable) return writable;
        seen = nodes.map((n) => `${n.name} ${n.role}${n.error ? ` (${n.error})` : ''}`).join(', ');
        if (tries === 1 || tries % 40 === 0) {
          await ctx.log(`waiting for a primary: ${seen}`);
          await ctx.progress(Math.min(99, Math.round((100 * (Date.now() - started)) / timeoutMs)), 'waiting for the primary');
        }
        return undefined;
      },
      {
        timeoutMs,
        // a short poll: standbys clone as soon as the primary opens its consumer port
        everyMs: 250,
        signal: ctx.signal,
        onTimeout: () =>
          new Error(
            `no node took writes within ${data.timeoutSec} s (${seen}); at the first start check ${data.primary}'s first-start flow on queue ${nodeQueueName(ctx.config.cluster, data.primary)}, then retry this step`,
          ),
      },
    );
    await ctx.log(`primary ${primary.name} answers on ${primary.host}:${primary.port} after ${tries} tries`);
    return { tries, primary: primary.name };
  },
});
