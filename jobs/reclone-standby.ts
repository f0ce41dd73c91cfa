// Restore (every other node): a fresh clone of the restored primary (the old folder moved aside).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStep } from '../src/step.js';
import { findNode, nodePaths } from '../src/config/paths.js';
import { postmasterStatus, stopPostgres } from '../src/postgres/actions.js';
import { repmgr, restartRepmgrd, stopRepmgrd } from '../src/repmgr/actions.js';
import { cloneFrom, moveAside, startAsStandby, streamingFrom, waitStreaming } from '../src/roles/node.js';
import { nodeContext } from './context.js';

export default defineStep('reclone-standby', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const primary = findNode(ctx.config, data.primary);
    const p = nodePaths(ctx.config, nc.node);
    const done = join(p.stateDir, `restore-done-${data.flowId}`);
    if (postmasterStatus(p.dataDir)) {
      if (existsSync(done) && (await streamingFrom(nc)).upstream === primary.name) {
        await ctx.log(`${nc.node.name} already streams from the restored ${primary.name}`);
        return { recloned: false };
      }
      await stopRepmgrd(nc);
      await stopPostgres(nc);
    }
    const aside = await moveAside(nc, `restore ${data.flowId}`);
    if (aside) writeFileSync(join(p.stateDir, `restore-aside-${data.flowId}`), aside);
    await ctx.progress(20, `clone from ${primary.name}`);
    await cloneFrom(nc, primary);
    await startAsStandby(nc);
    await waitStreaming(nc, primary.name);
    await repmgr(nc, ['standby', 'register', '--force']);
    await restartRepmgrd(nc);
    writeFileSync(done, new Date().toISOString());
    return { recloned: true };
  },
});
