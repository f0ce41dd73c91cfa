// Standby step 4: this node's own settings over the cloned ones, start on the consumer port, and
// check that it streams from the primary.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { defineStep, StepDataBase } from '../src/step.js';
import { ensureRunningOn, renderNodeFiles, withLocalSql } from '../src/postgres/actions.js';
import { nodePaths } from '../src/config/paths.js';
import { nodeContext, sleep } from './context.js';

export default defineStep({
  name: 'start-standby',
  schema: StepDataBase.passthrough(),
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const p = nodePaths(ctx.config, nc.node);
    if (!existsSync(join(p.dataDir, 'standby.signal'))) {
      // never start a data directory without standby.signal here: it would come up writable
      throw new UnrecoverableError(`${p.dataDir} has no standby.signal, so it would start as a primary; re-run the standby clone step`);
    }
    const changed = renderNodeFiles(nc, { replication: true });
    await ctx.progress(30, 'start as standby');
    await ensureRunningOn(nc, ctx.config.postgres.port, changed);
    for (let i = 0; i < 60; i++) {
      const status = await withLocalSql(nc, ctx.config.postgres.port, 'postgres', async (sql) => {
        const r = await sql.query(`SELECT pg_is_in_recovery() AS recovery, (SELECT status FROM pg_stat_wal_receiver) AS wal`);
        return r.rows[0] as { recovery: boolean; wal: string | null };
      });
      if (!status.recovery) throw new UnrecoverableError(`${nc.node.name} is not in recovery after start; stop it and re-clone`);
      if (status.wal === 'streaming') {
        await ctx.log(`${nc.node.name} streams from its upstream`);
        return { streaming: true };
      }
      await sleep(500, ctx.signal);
    }
    throw new Error(`${nc.node.name} started but does not stream after 30 s; see ${p.pgLog}`);
  },
});
