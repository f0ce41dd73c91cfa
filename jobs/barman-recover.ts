// Restore (barman host): `barman recover` of the chosen backup, with the recovery target, into a
// staging folder beside barman's data; the target node's step moves it into place.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { defineStep } from '../src/step.js';
import { barmanPaths, findNode } from '../src/config/paths.js';
import { barman } from '../src/barman/actions.js';
import { recoverArgs, restoreDestination, type RestoreTarget } from '../src/barman/restore.js';
import { ensureDir } from '../src/fsutil.js';
import { UnrecoverableError } from 'bullmq';
import { restartEveryNode } from './context.js';

export default defineStep('barman-recover', {
  async run(ctx, data) {
    const { server } = barmanPaths(ctx.config);
    const dest = restoreDestination(ctx.config, findNode(ctx.config, data.node), data.flowId);
    if (!dest.sshCommand) {
      // a retry starts from a clean staging folder
      rmSync(dest.path, { recursive: true, force: true });
      ensureDir(join(ctx.config.barman.backupDir, 'restore'), { owner: ctx.config.osUsers.barman, mode: 0o755 });
    }
    await ctx.progress(10, `barman recover ${data.backupId}`);
    // WAL is copied into the restored folder (barman_wal/) so PostgreSQL needs no barman on its host
    try {
      const args = recoverArgs(ctx.config, { server, backupId: data.backupId, target: data.target as RestoreTarget, destination: dest.path, sshCommand: dest.sshCommand });
      await barman(ctx, args, { timeoutMs: 3_600_000 });
    } catch (err) {
      // the nodes were stopped for this restore and nothing of theirs was touched yet: when no retry
      // follows, they start again on their own data rather than stay down
      if (!ctx.finalAttempt) throw err;
      await restartEveryNode(ctx, data.flowId);
      throw new UnrecoverableError(`${(err as Error).message}\nbarman recover failed on its last attempt: every node restarts on the data it had; fix the cause above, then run the restore again`);
    }
    return { staging: dest.path };
  },
});
