// Step 5 (primary): the repmgr database, owned by the repmgr role.
import { defineStep } from '../src/step.js';
import { postmasterStatus, withLocalSql } from '../src/postgres/actions.js';
import { nodePaths } from '../src/config/paths.js';
import { nodeContext } from './context.js';

export default defineStep('create-repmgr-db', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const port = postmasterStatus(nodePaths(ctx.config, nc.node).dataDir)?.port ?? ctx.config.postgres.technicalPort;
    return withLocalSql(nc, port, 'postgres', async (sql) => {
      const found = await sql.query(`SELECT 1 FROM pg_database WHERE datname = 'repmgr'`);
      if (found.rowCount) {
        await ctx.log('database repmgr already exists');
        return { created: false };
      }
      await sql.query('CREATE DATABASE repmgr OWNER repmgr');
      await ctx.log('database repmgr created, owner repmgr');
      return { created: true };
    });
  },
});
