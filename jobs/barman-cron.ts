// Run by the barman-cron job scheduler: starts receive-wal when it is not running, applies retention.
import { existsSync } from 'node:fs';
import { defineStep } from '../src/step.js';
import { barmanPaths } from '../src/config/paths.js';
import { barman } from '../src/barman/actions.js';

export default defineStep('barman-cron', {
  async run(ctx) {
    const { serverConf, cronOut } = barmanPaths(ctx.config);
    // the scheduler starts with the barman worker, before the first start has configured barman
    if (!existsSync(serverConf)) return { ok: true, skipped: 'not configured yet' };
    // receive-wal stays behind as a daemon: its output goes to barman's log, not to our pipes
    await barman(ctx, ['cron'], { outputFile: cronOut, timeoutMs: 120_000 });
    return { ok: true };
  },
});
