// pgha config apply, first step on each node: the parameters file written whole and PostgreSQL
// reloaded; what still waits for a restart (pg_settings.pending_restart) is returned and logged.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { writeFileAtomic } from '../src/fsutil.js';
import { defineStep } from '../src/step.js';
import { nodePaths } from '../src/config/paths.js';
import { postmasterStatus, withLocalSql, writeParametersConf } from '../src/postgres/actions.js';
import { PARAMETERS_CONF, PENDING_RESTART_COLUMNS, pendingRestartOf } from '../src/postgres/parameters.js';
import { nodeContext } from './context.js';
import { pollUntil } from '../src/wait.js';

export default defineStep('write-parameters', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const p = nodePaths(ctx.config, nc.node);
    const file = join(p.dataDir, PARAMETERS_CONF);
    const previous = existsSync(file) ? readFileSync(file, 'utf8') : null;
    const changed = writeParametersConf(nc, data.parameters);
    await ctx.log(`${PARAMETERS_CONF} ${changed ? 'written' : 'already up to date'}: ${Object.keys(data.parameters).length} parameter(s)`);
    if (!postmasterStatus(p.dataDir)) return { changed, reloaded: false, pendingRestart: [] };
    const names = Object.keys(data.parameters).map((n) => n.toLowerCase()).filter((n) => !n.includes('.'));
    const r = await withLocalSql(nc, ctx.config.postgres.port, 'postgres', async (c) => {
      // a changed postmaster parameter reads "setting could not be applied" here: it waits for the restart, no error
      const errors = await c.query(`SELECT name, error FROM pg_file_settings WHERE error IS NOT NULL AND error <> 'setting could not be applied' AND sourcefile LIKE '%/' || $1`, [PARAMETERS_CONF]);
      if (errors.rowCount) return { errors: errors.rows as { name: string; error: string }[], pending: [] };
      await c.query('SELECT pg_reload_conf()');
      // the reload is asynchronous (SIGHUP to the postmaster, then to each backend, this one between
      // two queries): done once every parameter of the file is either in effect from it or pending a restart
      await pollUntil(
        'the reload in effect',
        async () =>
          (await c.query(`SELECT count(*)::int AS n FROM pg_settings WHERE name = ANY($1) AND (sourcefile LIKE '%/' || $2 OR pending_restart)`, [names, PARAMETERS_CONF])).rows[0].n === names.length,
        { timeoutMs: 10_000, everyMs: 100, signal: ctx.signal },
      );
      const pending = await c.query(`SELECT pg_is_in_recovery() AS recovery, ${PENDING_RESTART_COLUMNS}`);
      return { errors: [], pending: pendingRestartOf(pending.rows[0]) };
    });
    if (r.errors.length) {
      // checked against pg_settings before the flow started: only a different PostgreSQL build gets
      // here. The file it refused must not wait for the next restart: the one before goes back
      if (previous !== null) writeFileAtomic(file, previous, { owner: ctx.config.osUsers.postgres, mode: 0o600 });
      else rmSync(file, { force: true });
      throw new UnrecoverableError(`PostgreSQL refused ${r.errors.map((e) => `${e.name} (${e.error})`).join(', ')} in ${PARAMETERS_CONF} (the file before it is back in place): fix postgres.parameters and run pgha config apply again`);
    }
    await ctx.log(r.pending.length ? `reloaded; pending restart: ${r.pending.join(', ')}` : 'reloaded; nothing waits for a restart');
    return { changed, reloaded: true, pendingRestart: r.pending };
  },
});
