// Last primary step (barman host): WAL streaming running, one WAL archived, the first base backup.
import { existsSync, readdirSync } from 'node:fs';
import { defineStep } from '../src/step.js';
import { barmanPaths, findNode } from '../src/config/paths.js';
import { barman, doneBackupIds, switchWalArchived } from '../src/barman/actions.js';
import { pollUntil, WaitTimeout } from '../src/wait.js';

/** receive-wal streams (a .partial file in its folder) within `timeoutMs`; false when not. */
async function receiveWalStreaming(dir: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const streams = () => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial'));
  return pollUntil('receive-wal streams', streams, { timeoutMs, everyMs: 200, signal }).catch((err) => {
    if (err instanceof WaitTimeout) return false;
    throw err;
  });
}

export default defineStep('barman-first-backup', {
  async run(ctx, data) {
    const { server, log, cronOut, streamingDir } = barmanPaths(ctx.config);
    const done = doneBackupIds(ctx.config);
    if (done.length) {
      await ctx.log(`barman already has a DONE backup (${done[done.length - 1]}): first backup skipped`);
      return { backupId: done[done.length - 1], skipped: true };
    }
    await ctx.progress(10, 'start WAL streaming (barman cron)');
    await pollUntil(
      'barman archives a WAL file from the primary',
      async () => {
        await barman(ctx, ['cron'], { outputFile: cronOut, timeoutMs: 120_000 });
        // cron starts receive-wal in the background: a WAL file switched before pg_receivewal connects
        // is never streamed, and switch-wal then waits out its whole --archive-timeout (seen: 30 s lost)
        if (!(await receiveWalStreaming(streamingDir, 15_000, ctx.signal))) await ctx.log(`no .partial WAL file in ${streamingDir} after 15 s: switching anyway`);
        return switchWalArchived(ctx, findNode(ctx.config, data.node));
      },
      {
        timeoutMs: 4 * 60_000,
        everyMs: 1000,
        signal: ctx.signal,
        onTimeout: () => new Error(`barman could not archive a WAL file from the primary in 4 minutes; see ${log} and run: barman -c ${barmanPaths(ctx.config).mainConf} check ${server}`),
      },
    );
    await ctx.progress(40, 'barman backup');
    await barman(ctx, ['backup', '--wait', '--wait-timeout', '300', server], { timeoutMs: 900_000 });
    const backups = doneBackupIds(ctx.config);
    if (!backups.length) throw new Error('barman backup finished but no DONE backup is listed; see barman list-backups');
    // no `barman check` here: it is scheduled (barman.checkEveryMs) and the backup just proved the set-up
    await ctx.log(`first backup ${backups[backups.length - 1]} DONE`);
    return { backupId: backups[backups.length - 1] };
  },
});
