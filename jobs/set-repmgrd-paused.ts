// Planned operations: pause repmgrd cluster-wide so a planned stop is never taken for a failure.
import { z } from 'zod';
import { defineStep, StepDataBase } from '../src/step.js';
import { setRepmgrdPaused } from '../src/repmgr/actions.js';
import { nodeContext } from './context.js';

export default defineStep({
  name: 'set-repmgrd-paused',
  schema: StepDataBase.extend({ paused: z.boolean() }),
  async run(ctx, data) {
    await setRepmgrdPaused(nodeContext(ctx, data.node), data.paused);
    await ctx.log(`automatic failover ${data.paused ? 'paused' : 'resumed'} cluster-wide`);
    return { paused: data.paused };
  },
});
