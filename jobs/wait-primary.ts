// Standby step 2: wait (bounded) until the primary's consumer port answers as a PostgreSQL server.
import { z } from 'zod';
import { defineStep, StepDataBase } from '../src/step.js';
import { connectAs } from '../src/postgres/actions.js';
import { findNode } from '../src/config/paths.js';
import { sleep } from './context.js';

export default defineStep({
  name: 'wait-primary',
  schema: StepDataBase.extend({ primary: z.string(), timeoutSec: z.number().int().positive().default(300) }),
  async run(ctx, data) {
    const primary = findNode(ctx.config, data.primary);
    const port = ctx.config.postgres.port;
    const deadline = Date.now() + data.timeoutSec * 1000;
    let lastError = '';
    let tries = 0;
    while (Date.now() < deadline) {
      tries++;
      try {
        const client = await connectAs(ctx.config, primary, { user: 'repmgr', timeoutMs: 2000 });
        const r = await client.query('SELECT pg_is_in_recovery() AS recovery');
        await client.end();
        if (!r.rows[0].recovery) {
          await ctx.log(`primary ${primary.name} answers on ${primary.host}:${port} after ${tries} tries`);
          return { tries };
        }
        lastError = 'it answers but is in recovery (not a primary)';
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (tries === 1 || tries % 40 === 0) {
        await ctx.log(`waiting for primary ${primary.name} on ${primary.host}:${port}: ${lastError}`);
        await ctx.progress(Math.min(99, Math.round((100 * (Date.now() - deadline + data.timeoutSec * 1000)) / (data.timeoutSec * 1000))), 'waiting for the primary');
      }
      // a short poll: standbys clone as soon as the primary opens its consumer port
      await sleep(250, ctx.signal);
    }
    throw new Error(
      `primary ${primary.name} (${primary.host}:${port}) did not answer within ${data.timeoutSec} s (last error: ${lastError}); ` +
        `check its first-start flow on queue ${ctx.config.cluster}.node.${primary.name}, then retry this step`,
    );
  },
});
