// After a promotion or switchover (barman host): stream WAL from the new primary: server file,
// receive-wal restarted on a fresh slot, one WAL archived from the new timeline.
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStep, type StepContext } from '../src/step.js';
import type { NodeConfig } from '../src/config/schema.js';
import { connectAs } from '../src/postgres/actions.js';
import { chownTo } from '../src/fsutil.js';
import { barmanPaths, findNode } from '../src/config/paths.js';
import { barman, switchWalArchived, writeBarmanFiles } from '../src/barman/actions.js';
import { pollUntil } from '../src/wait.js';

/**
 * History files the new primary holds that barman's archive lacks — the placeholders of a promotion
 * that took a number above a reserved one (src/roles/timeline.ts): receive-wal fetches only the history
 * of the timeline it streams — put where receive-wal writes, for barman cron to archive. Without them a
 * recovery from an earlier backup stops at the gap: PostgreSQL (and pgha's restore check) count
 * history files upward one by one. A file of that name barman already holds is never replaced (a real
 * history of a node that died keeps its place). Returns the names added.
 */
async function archiveMissingHistories(ctx: StepContext, primary: NodeConfig): Promise<string[]> {
  const { server, streamingDir } = barmanPaths(ctx.config);
  const serverDir = join(ctx.config.barman.backupDir, server);
  const wals = join(serverDir, 'wals');
  const c = await connectAs(ctx.config, primary, { user: 'repmgr', timeoutMs: 5000, queryTimeoutMs: 30_000 });
  try {
    const names = (await c.query(`SELECT name FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{8}\\.history$' ORDER BY name`)).rows.map((r) => r.name as string);
    const added: string[] = [];
    for (const name of names) {
      if ([join(wals, name), join(wals, `${name}.gz`), join(streamingDir, name)].some((f) => existsSync(f))) continue;
      const text = (await c.query('SELECT pg_read_file($1::text) AS t', [`pg_wal/${name}`])).rows[0].t as string;
      // written beside the streaming folder, then moved in whole: barman cron must never read half a file
      const tmp = join(serverDir, `.${name}.pgha-tmp`);
      writeFileSync(tmp, text, { mode: 0o600 });
      chownTo(tmp, ctx.config.osUsers.barman);
      renameSync(tmp, join(streamingDir, name));
      added.push(name);
    }
    return added;
  } finally {
    await c.end().catch(() => {});
  }
}

export default defineStep('barman-switch-primary', {
  async run(ctx, data) {
    const primary = findNode(ctx.config, data.node);
    const { server, cronOut, mainConf, stateDir } = barmanPaths(ctx.config);
    // a switch under way is marked before the server file changes: a re-run after a crash anywhere
    // before the new slot is in place does the reset again (the file alone would say "already there")
    const pending = join(stateDir, 'switch-pending');
    const unfinished = existsSync(pending);
    writeFileSync(pending, `${primary.name} ${data.flowId}\n`);
    const changed = writeBarmanFiles(ctx, primary);
    await ctx.log(changed ? `barman server file now points at ${primary.name}` : `barman server file already points at ${primary.name}`);
    // after a restore the primary may be the same node on a new timeline, without barman's slot
    if (changed || data.reset || unfinished) {
      await barman(ctx, ['receive-wal', '--stop', server], { allowFail: true, timeoutMs: 60_000 });
      // a fresh slot: one left on this node from a time it was the primary before holds a position
      // behind its timeline's start, which receive-wal --reset would then ask for and never get
      await barman(ctx, ['receive-wal', '--drop-slot', server], { allowFail: true, timeoutMs: 60_000 });
      await barman(ctx, ['receive-wal', '--create-slot', server], { allowFail: true, timeoutMs: 60_000 });
      await barman(ctx, ['receive-wal', '--reset', server], { allowFail: true, timeoutMs: 60_000 });
    }
    rmSync(pending, { force: true });
    const added = await archiveMissingHistories(ctx, primary);
    if (added.length) await ctx.log(`history files barman lacked, from ${primary.name}, for barman cron to archive: ${added.join(', ')}`);
    // barman cron starts receive-wal; a switched WAL file that reaches barman proves the stream
    await pollUntil(
      `barman archives a WAL file from ${primary.name}`,
      async () => {
        await barman(ctx, ['cron'], { outputFile: cronOut, timeoutMs: 120_000 });
        return switchWalArchived(ctx, primary);
      },
      {
        timeoutMs: 5 * 60_000,
        everyMs: 1000,
        signal: ctx.signal,
        onTimeout: () => new Error(`barman could not archive WAL from ${primary.name} in 5 minutes; see barman -c ${mainConf} check ${server}`),
      },
    );
    return { primary: primary.name, changed };
  },
});
