// Last node step of the first-start and restart flows: the repmgr daemon that watches the cluster.
import { writeFileSync } from 'node:fs';
import { defineStep } from '../src/step.js';
import { nodePaths } from '../src/config/paths.js';
import { restartRepmgrd, startRepmgrd, writeRepmgrConf } from '../src/repmgr/actions.js';
import { keepMaintenancePause, nodeContext } from './context.js';

export default defineStep('start-repmgrd', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const changed = writeRepmgrConf(nc);
    await keepMaintenancePause(ctx, nc);
    await ctx.progress(50, 'start repmgrd');
    // a node whose role or config changed needs a repmgrd that knows it
    const pid = data.restart || changed ? await restartRepmgrd(nc) : await startRepmgrd(nc);
    // from now on, a boot of this node is a restart (the restart decision), not a first start
    writeFileSync(nodePaths(ctx.config, nc.node).startedMarker, `${new Date().toISOString()}\n`);
    return { pid };
  },
});
