// Standby step 5: `repmgr standby register`.
import { defineStep } from '../src/step.js';
import { withLocalSql } from '../src/postgres/actions.js';
import { repmgrNodeId } from '../src/config/paths.js';
import { repmgr, writeRepmgrConf } from '../src/repmgr/actions.js';
import { nodeContext } from './context.js';
import { pollUntil } from '../src/wait.js';

export default defineStep('register-standby', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const nodeId = repmgrNodeId(ctx.config, nc.node.name);
    writeRepmgrConf(nc);
    const registered = () =>
      withLocalSql(nc, ctx.config.postgres.port, 'repmgr', async (sql) => {
        const r = await sql.query(`SELECT 1 FROM repmgr.nodes WHERE node_id = $1 AND type = 'standby' AND active`, [nodeId]);
        return (r.rowCount ?? 0) > 0;
      });
    if (await registered()) {
      await ctx.log(`node ${nc.node.name} (id ${nodeId}) is already registered as standby`);
      return { registered: false };
    }
    await ctx.progress(40, 'repmgr standby register');
    await repmgr(nc, ['standby', 'register', '--force']);
    // the record is written on the primary; wait until it has replayed here
    await pollUntil(`${nc.node.name}'s standby record replayed here`, registered, {
      timeoutMs: 30_000,
      everyMs: 250,
      signal: ctx.signal,
      onTimeout: () => new Error(`repmgr registered ${nc.node.name} on the primary, but the record has not reached this standby within 30 s (does it stream? pgha status); the step tries again`),
    });
    return { registered: true };
  },
});
