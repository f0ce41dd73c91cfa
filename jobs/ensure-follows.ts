// After a promotion or switchover: a standby streams from the new primary (follows it if not).
import { z } from 'zod';
import { defineStep, StepDataBase } from '../src/step.js';
import { findNode, nodePaths } from '../src/config/paths.js';
import { postmasterStatus } from '../src/postgres/actions.js';
import { ensureFollows } from '../src/roles/node.js';
import { nodeContext } from './context.js';

export default defineStep({
  name: 'ensure-follows',
  schema: StepDataBase.extend({ primary: z.string() }),
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    if (!postmasterStatus(nodePaths(ctx.config, nc.node).dataDir)) {
      await ctx.log(`${nc.node.name} is down: when it starts, its restart decision makes it follow ${data.primary}`);
      return { result: 'down' };
    }
    return { result: await ensureFollows(nc, findNode(ctx.config, data.primary)) };
  },
});
