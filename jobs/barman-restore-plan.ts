// Restore, before anything stops (barman host): what barman holds, to check the request against.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStep } from '../src/step.js';
import { barmanPaths } from '../src/config/paths.js';
import { barman, listBackups } from '../src/barman/actions.js';
import { lastWalTime } from '../src/barman/restore.js';

export default defineStep({
  name: 'barman-restore-plan',
  schema: z.object({ cluster: z.string(), switchWal: z.boolean().default(true) }),
  async run(ctx, data) {
    const { server } = barmanPaths(ctx.config);
    // with no target a restore replays every WAL barman holds: close the current segment first
    if (data.switchWal) await barman(ctx, ['switch-wal', '--force', '--archive', '--archive-timeout', '30', server], { allowFail: true, timeoutMs: 90_000 });
    const xlog = join(ctx.config.barman.backupDir, server, 'wals', 'xlog.db');
    return { backups: await listBackups(ctx), lastWalTime: existsSync(xlog) ? lastWalTime(readFileSync(xlog, 'utf8')) : null };
  },
});
