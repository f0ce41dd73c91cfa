// Switchover: the old primary, stopped cleanly, comes back as a standby of the new one.
import { defineStep } from '../src/step.js';
import { restartRepmgrd } from '../src/repmgr/actions.js';
import { rejoin } from '../src/roles/node.js';
import { keepMaintenancePause, nodeContext } from './context.js';

export default defineStep('rejoin-node', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const how = await rejoin(nc, data.primary);
    await keepMaintenancePause(ctx, nc);
    await restartRepmgrd(nc);
    return { how };
  },
});
