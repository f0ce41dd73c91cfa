// Restore, last step on each node: the flow ended well, so the data directory from before it goes.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defineStep } from '../src/step.js';
import { nodePaths } from '../src/config/paths.js';
import { nodeContext } from './context.js';

export default defineStep('forget-old-data', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const record = join(nodePaths(ctx.config, nc.node).stateDir, `restore-aside-${data.flowId}`);
    if (!existsSync(record)) return { removed: null };
    const aside = readFileSync(record, 'utf8').trim();
    rmSync(aside, { recursive: true, force: true });
    rmSync(record, { force: true });
    await ctx.log(`the restore ended well: removed ${aside}`);
    return { removed: aside };
  },
});
