// After a promotion or switchover (barman host): stream WAL from the new primary: server file,
// receive-wal restarted on a fresh slot, one WAL archived from the new timeline.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStep, StepDataBase } from '../src/step.js';
import { barmanPaths, findNode } from '../src/config/paths.js';
import { barman, writeBarmanFiles } from '../src/barman/actions.js';
import { sleep } from '../src/wait.js';

export default defineStep({
  name: 'barman-switch-primary',
  schema: StepDataBase.extend({ reset: z.boolean().default(false) }),
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
    for (let i = 0; i < 10; i++) {
      await barman(ctx, ['cron'], { outputFile: cronOut, timeoutMs: 120_000 });
      const res = await barman(ctx, ['switch-wal', '--force', '--archive', '--archive-timeout', '30', server], { allowFail: true, timeoutMs: 90_000 });
      if (res.exitCode === 0) return { primary: primary.name, changed };
      await sleep(1000, ctx.signal);
    }
    throw new Error(`barman could not archive WAL from ${primary.name}; see barman -c ${mainConf} check ${server}`);
  },
});
