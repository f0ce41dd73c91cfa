// A base backup now (after a promotion: the first one on the new timeline).
import { defineStep, StepDataBase } from '../src/step.js';
import { barmanPaths } from '../src/config/paths.js';
import { barman, listBackups } from '../src/barman/actions.js';

export default defineStep({
  name: 'barman-backup',
  schema: StepDataBase,
  async run(ctx) {
    const { server } = barmanPaths(ctx.config);
    const before = new Set((await listBackups(ctx)).map((b) => b.id));
    await ctx.progress(20, 'barman backup');
    await barman(ctx, ['backup', '--wait', '--wait-timeout', '300', server], { timeoutMs: 900_000 });
    const made = (await listBackups(ctx)).filter((b) => !before.has(b.id));
    const done = made.find((b) => b.status === 'DONE');
    if (!done) throw new Error(`barman backup ended without a DONE backup (${made.map((b) => `${b.id} ${b.status}`).join(', ') || 'none listed'})`);
    await ctx.log(`backup ${done.id} DONE`);
    return { backupId: done.id };
  },
});
