// Restore (target node): the recovered folder becomes the data directory (the old one is moved
// aside, kept until the flow ends well), recovery runs to the target, the node is promoted.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { defineStep } from '../src/step.js';
import { nodePaths } from '../src/config/paths.js';
import { UnrecoverableError } from 'bullmq';
import { type NodeContext, ensureRunningOn, postmasterExitReason, postmasterStatus, renderNodeFiles, stopPostgres, withLocalSql, writeSynchronousConf } from '../src/postgres/actions.js';
import { asideRecordFile, moveAside } from '../src/roles/node.js';
import { restoreDestination } from '../src/barman/restore.js';
import { nodeContext, notePromotion, restartEveryNode } from './context.js';
import { CURRENT_TIMELINE_SQL } from '../src/history.js';
import { sleep } from '../src/wait.js';
import { RECOVERY_TARGET_SETTINGS } from '../src/postgres/parameters.js';

/** What barman recover may write into postgresql.auto.conf. */
export const RECOVERY_SETTINGS = ['restore_command', 'recovery_end_command', ...RECOVERY_TARGET_SETTINGS];

/**
 * The way back of a failed install: PostgreSQL stopped, the restored folder moved aside (kept for a
 * look at why), the data directory from before the restore put back. Returns what was done, in words.
 */
async function putBackOldData(nc: NodeContext, asideFile: string, flowId: string): Promise<string> {
  const p = nodePaths(nc.config, nc.node);
  const aside = existsSync(asideFile) ? readFileSync(asideFile, 'utf8').trim() : null;
  if (!aside || !existsSync(aside)) return `No data directory from before the restore was found to put back.`;
  if (postmasterStatus(p.dataDir)) await stopPostgres(nc);
  const failed = `${p.dataDir}.failed-restore-${flowId}`;
  if (existsSync(p.dataDir)) renameSync(p.dataDir, failed);
  renameSync(aside, p.dataDir);
  rmSync(asideFile, { force: true });
  await nc.log(`the data directory from before the restore is back at ${p.dataDir}; the restored one is kept at ${failed} (delete it once you do not need it)`);
  return `The data directory from before the restore is back in place (the restored one is kept at ${failed}).`;
}

export default defineStep('install-restored', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const p = nodePaths(ctx.config, nc.node);
    const staging = restoreDestination(ctx.config, nc.node, data.flowId).path;
    const asideFile = asideRecordFile(nc, data.flowId);
    // this restore already went back (a re-run after a crash right after): the folder here is the old
    // data, which must not pass for the restored one
    const wentBack = join(p.stateDir, `restore-went-back-${data.flowId}`);
    if (existsSync(wentBack)) throw new UnrecoverableError(readFileSync(wentBack, 'utf8'));
    if (existsSync(staging)) {
      if (postmasterStatus(p.dataDir)) await stopPostgres(nc);
      const aside = await moveAside(nc, `restore ${data.flowId}`);
      if (aside) writeFileSync(asideFile, aside);
      renameSync(staging, p.dataDir);
      await execa('chown', ['-R', `${ctx.config.osUsers.postgres}:`, p.dataDir]);
      await execa('chmod', ['700', p.dataDir]);
      rmSync(join(p.dataDir, 'standby.signal'), { force: true });
    }
    try {
      renderNodeFiles(nc, { replication: true });
      // the backup's quorum setting would hold this flow's own writes until standbys exist again:
      // asynchronous until the quorum keeper sees them stream
      writeSynchronousConf(nc, '');
      await ctx.progress(40, 'recovery to the target');
      await ensureRunningOn(nc, ctx.config.postgres.port).catch((err: Error) => {
        // recovery can end (a target the WAL does not reach) before pg_ctl sees the server up
        if (!postmasterStatus(p.dataDir)) throw new UnrecoverableError(`PostgreSQL on ${nc.node.name} exited during recovery: ${postmasterExitReason(nc)}`);
        throw err;
      });
      const deadline = Date.now() + 10 * 60_000;
      for (;;) {
        const inRecovery = await withLocalSql(nc, ctx.config.postgres.port, 'postgres', async (c) => (await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r as boolean).catch(() => true);
        if (!inRecovery) break;
        // a refused connection is "still recovering" only while the postmaster runs: when it has
        // exited (a target the WAL cannot reach) no retry helps, and waiting would only keep the cluster down
        if (!postmasterStatus(p.dataDir)) throw new UnrecoverableError(`PostgreSQL on ${nc.node.name} exited during recovery: ${postmasterExitReason(nc)}`);
        if (Date.now() > deadline) throw new Error('recovery did not finish within 10 minutes');
        // the cluster is down until this step ends: look often (each look is a local connection and one query)
        await sleep(100, ctx.signal);
      }
      // barman's recovery settings must not outlive the recovery: a standby cloned from this node
      // would copy them and promote itself at the same target
      await withLocalSql(nc, ctx.config.postgres.port, 'postgres', async (c) => {
        for (const setting of RECOVERY_SETTINGS) await c.query(`ALTER SYSTEM RESET ${setting}`);
        await c.query('SELECT pg_reload_conf()');
      });
      rmSync(join(p.dataDir, 'barman_wal'), { recursive: true, force: true });
      await ctx.log(`${nc.node.name} recovered and promoted; recovery settings reset`);
      // the history line is best effort: nothing here may send a restore that worked back to the old data
      const timeline = await withLocalSql(nc, ctx.config.postgres.port, 'postgres', async (c) => (await c.query(CURRENT_TIMELINE_SQL)).rows[0].t as number).catch(() => null);
      if (timeline !== null) await notePromotion(ctx, { timeline, node: nc.node.name, at: new Date().toISOString(), why: 'restore', by: data.flowId });
      return { restored: true };
    } catch (err) {
      const retried = !(err instanceof UnrecoverableError) && !ctx.finalAttempt;
      if (retried) throw new Error(`${(err as Error).message}; see ${p.pgLog}`);
      // no retry will finish this restore: the data from before it goes back in place and every node
      // the flow stopped starts again, instead of the cluster staying down
      const back = await putBackOldData(nc, asideFile, data.flowId);
      const message =
        `${(err as Error).message}; see ${p.pgLog}. ${back} Every node restarts in its former role; ` +
        'to restore, run the restore again with a target the backup reaches (a refused one names the valid range).';
      writeFileSync(wentBack, message);
      await restartEveryNode(ctx, data.flowId);
      throw new UnrecoverableError(message);
    }
  },
});
