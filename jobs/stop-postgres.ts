// Planned operations: a clean (fast) shutdown; returns the shutdown checkpoint, which a switchover
// target must have replayed before it is promoted.
import { defineStep } from '../src/step.js';
import { stopPostgres } from '../src/postgres/actions.js';
import { readControlData } from '../src/postgres/controldata.js';
import { stopRepmgrd } from '../src/repmgr/actions.js';
import { nodeContext } from './context.js';

export default defineStep('stop-postgres', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    await stopRepmgrd(nc);
    await stopPostgres(nc);
    const cd = await readControlData(nc);
    await ctx.log(`stopped: ${cd.state}, shutdown checkpoint ${cd.checkpointLsn} on timeline ${cd.timeline}`);
    return { checkpointLsn: cd.checkpointLsn, timeline: cd.timeline };
  },
});
