// Restore's and reinit's last step on a node: the flow ended well, so the data directory from before it goes.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { defineStep } from '../src/step.js';
import { asideRecordFile } from '../src/roles/node.js';
import { nodeContext } from './context.js';

export default defineStep('forget-old-data', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const record = asideRecordFile(nc, data.flowId);
    if (!existsSync(record)) return { removed: null };
    const aside = readFileSync(record, 'utf8').trim();
    rmSync(aside, { recursive: true, force: true });
    rmSync(record, { force: true });
    await ctx.log(`the flow ended well: removed ${aside}, the data directory from before it`);
    return { removed: aside };
  },
});
