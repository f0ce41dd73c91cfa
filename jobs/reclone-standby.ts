// Restore (every other node) and reinit: a fresh clone of the primary, the old data directory moved
// aside (the flow's last step, forget-old-data, removes it once the new one streams).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStep } from '../src/step.js';
import { findNode, nodePaths } from '../src/config/paths.js';
import { postmasterStatus, stopPostgres } from '../src/postgres/actions.js';
import { repmgr, restartRepmgrd, stopRepmgrd } from '../src/repmgr/actions.js';
import { asideRecordFile, cloneFrom, moveAside, startAsStandby, streamingFrom, waitStreaming } from '../src/roles/node.js';
import { keepMaintenancePause, nodeContext } from './context.js';

export default defineStep('reclone-standby', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const primary = findNode(ctx.config, data.primary);
    const p = nodePaths(ctx.config, nc.node);
    const done = join(p.stateDir, `reclone-done-${data.flowId}`);
    if (postmasterStatus(p.dataDir)) {
      if (existsSync(done) && (await streamingFrom(nc)).upstream === primary.name) {
        await ctx.log(`${nc.node.name} already streams from ${primary.name} on a fresh clone`);
        return { recloned: false };
      }
      await stopRepmgrd(nc);
      await stopPostgres(nc);
    }
    const record = asideRecordFile(nc, data.flowId);
    const keptAside = existsSync(record) ? readFileSync(record, 'utf8').trim() : '';
    if (keptAside && existsSync(keptAside)) {
      // a run of this step before a crash moved the old data aside: what is here is its own clone
      rmSync(p.dataDir, { recursive: true, force: true });
      await ctx.log(`the data directory from before this flow is kept at ${keptAside}; the clone begun before is removed and made again`);
    } else {
      const aside = await moveAside(nc, `flow ${data.flowId} clones ${nc.node.name} again`);
      if (aside) writeFileSync(record, aside);
    }
    await ctx.progress(20, `clone from ${primary.name}`);
    await cloneFrom(nc, primary);
    await startAsStandby(nc);
    await waitStreaming(nc, primary.name);
    await repmgr(nc, ['standby', 'register', '--force']);
    await keepMaintenancePause(ctx, nc);
    await restartRepmgrd(nc);
    writeFileSync(done, new Date().toISOString());
    return { recloned: true };
  },
});
