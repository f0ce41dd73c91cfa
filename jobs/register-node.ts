// Restart flows: (re-)register the node in repmgr as what it runs as now.
import { defineStep } from '../src/step.js';
import { registerAsRunning } from '../src/roles/node.js';
import { nodeContext } from './context.js';

export default defineStep('register-node', {
  async run(ctx, data) {
    const role = await registerAsRunning(nodeContext(ctx, data.node));
    await ctx.log(`registered as ${role}`);
    return { role };
  },
});
