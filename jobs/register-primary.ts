// Step 6 (primary): `repmgr primary register`. PostgreSQL still listens on the technical port, so
// repmgr connects there; the record then gets the consumer-port conninfo the cluster will use.
import { join } from 'node:path';
import { defineStep } from '../src/step.js';
import { postmasterStatus, withLocalSql } from '../src/postgres/actions.js';
import { nodePaths, repmgrNodeId } from '../src/config/paths.js';
import { repmgrConninfo, renderRepmgrConf } from '../src/repmgr/render.js';
import { repmgr, writeRepmgrConf } from '../src/repmgr/actions.js';
import { writeFileAtomic } from '../src/fsutil.js';
import { nodeContext } from './context.js';
import { recordFirstStart } from '../src/history.js';
import { redisConnection } from '../src/redis.js';

export default defineStep('register-primary', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const p = nodePaths(ctx.config, nc.node);
    const nodeId = repmgrNodeId(ctx.config, nc.node.name);
    const port = postmasterStatus(p.dataDir)?.port ?? ctx.config.postgres.technicalPort;
    writeRepmgrConf(nc);
    const finalConninfo = repmgrConninfo(ctx.config, nc.node);
    const record = await withLocalSql(nc, port, 'repmgr', async (sql) => {
      const hasSchema = await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'repmgr'`);
      if (!hasSchema.rowCount) return undefined;
      const r = await sql.query('SELECT type, active, conninfo FROM repmgr.nodes WHERE node_id = $1', [nodeId]);
      return r.rows[0] as { type: string; active: boolean; conninfo: string } | undefined;
    });
    if (record?.type === 'primary' && record.active && record.conninfo === finalConninfo) {
      await ctx.log(`node ${nc.node.name} (id ${nodeId}) is already registered as primary`);
      return { registered: false };
    }
    if (!record || record.type !== 'primary') {
      await ctx.progress(30, 'repmgr primary register');
      let conf = p.repmgrConf;
      if (port !== ctx.config.postgres.port) {
        conf = join(p.stateDir, 'repmgr-technical.conf');
        writeFileAtomic(conf, renderRepmgrConf(ctx.config, nc.node, { port }), { owner: ctx.config.osUsers.postgres, mode: 0o640 });
      }
      await repmgr(nc, ['primary', 'register', ...(record ? ['--force'] : [])], { conf });
    }
    await withLocalSql(nc, port, 'repmgr', (sql) =>
      sql.query('UPDATE repmgr.nodes SET conninfo = $1, active = true WHERE node_id = $2', [finalConninfo, nodeId]),
    );
    await ctx.log(`registered ${nc.node.name} (id ${nodeId}) as primary; conninfo ${finalConninfo}`);
    // timeline 1 of the cluster's history (pgha history) began here
    const connection = redisConnection(ctx.config.redis);
    await recordFirstStart(connection, ctx.config.cluster, new Date().toISOString()).finally(() => connection.disconnect());
    return { registered: true };
  },
});
