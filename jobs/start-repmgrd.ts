// Last node step of both first-start flows: the repmgr daemon that watches the cluster.
import { defineStep, StepDataBase } from '../src/step.js';
import { startRepmgrd, writeRepmgrConf } from '../src/repmgr/actions.js';
import { nodeContext } from './context.js';

export default defineStep({
  name: 'start-repmgrd',
  schema: StepDataBase.passthrough(),
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    writeRepmgrConf(nc);
    await ctx.progress(50, 'start repmgrd');
    const pid = await startRepmgrd(nc);
    return { pid };
  },
});
