// Step 4 (primary): the roles repmgr, repmgr_streaming, barman, barman_streaming, created or altered.
import { defineStep } from '../src/step.js';
import { postmasterStatus, withLocalSql } from '../src/postgres/actions.js';
import { nodePaths } from '../src/config/paths.js';
import { scramMatches, scramVerifier } from '../src/postgres/scram.js';
import { nodeContext } from './context.js';

export default defineStep('create-users', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const { repmgr, barman, postgres } = ctx.config;
    const roles: { name: string; attrs: string; password: string }[] = [
      { name: 'postgres', attrs: 'SUPERUSER', password: postgres.rootPassword },
      { name: 'repmgr', attrs: 'SUPERUSER', password: repmgr.password },
      { name: 'repmgr_streaming', attrs: 'REPLICATION', password: repmgr.streamingPassword },
      // barman's backup checks need pg_read_all_settings and more; superuser is what barman documents simplest
      { name: 'barman', attrs: 'SUPERUSER', password: barman.password },
      { name: 'barman_streaming', attrs: 'REPLICATION', password: barman.streamingPassword },
    ];
    const port = postmasterStatus(nodePaths(ctx.config, nc.node).dataDir)?.port ?? postgres.technicalPort;
    const done: string[] = [];
    await withLocalSql(nc, port, 'postgres', async (sql) => {
      for (const [i, role] of roles.entries()) {
        await ctx.progress(Math.round((i / roles.length) * 100), `role ${role.name}`);
        const found = await sql.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role.name]);
        // the verifier is computed here: the plain password never reaches the server's logs
        const verifier = scramVerifier(role.password);
        if (found.rowCount === 0) {
          await sql.query(`CREATE ROLE ${role.name} LOGIN ${role.attrs} PASSWORD '${verifier}'`);
          await ctx.log(`role ${role.name} created (${role.attrs})`);
          done.push(`created ${role.name}`);
        } else if (!scramMatches(found.rows[0].rolpassword, role.password)) {
          await sql.query(`ALTER ROLE ${role.name} LOGIN ${role.attrs} PASSWORD '${verifier}'`);
          await ctx.log(`role ${role.name} altered: password set from config`);
          done.push(`altered ${role.name}`);
        } else {
          await sql.query(`ALTER ROLE ${role.name} LOGIN ${role.attrs}`);
          await ctx.log(`role ${role.name} already exists with the configured password`);
        }
      }
    });
    return { changes: done };
  },
});
