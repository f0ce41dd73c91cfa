// Step 1 of both first-start flows: the node's master flag decides which flow it may run.
import { UnrecoverableError } from 'bullmq';
import { defineStep } from '../src/step.js';
import { nodeContext } from './context.js';

export default defineStep('check-master-flag', {
  async run(ctx, data) {
    const { node } = nodeContext(ctx, data.node);
    const expectPrimary = data.primary === undefined;
    await ctx.progress(50, `master flag of ${node.name} is ${node.master}`);
    if (node.master !== expectPrimary) {
      throw new UnrecoverableError(
        `nodes[${node.name}].master is ${node.master} but this is the ${expectPrimary ? 'primary' : 'standby'} first-start flow; ` +
          `fix the master flag in pgha.yaml (exactly one node has master: true) and start the matching flow`,
      );
    }
    await ctx.log(`${node.name} has master: ${node.master}: ${expectPrimary ? 'primary' : 'standby'} first start`);
    return { master: node.master };
  },
});
