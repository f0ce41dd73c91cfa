// Before an on-demand backup: `barman check` must pass on everything a backup needs, so a DBA sees
// "barman check: directories FAILED" here rather than a backup that hangs or fails half-way.
import { defineStep } from '../src/step.js';
import { barmanPaths } from '../src/config/paths.js';
import { barman } from '../src/barman/actions.js';
import { failedChecks } from './barman-check.js';
import { pollUntil } from '../src/wait.js';

/** Checks that a new backup cures or that do not stop one from being taken. */
const NOT_BLOCKING = /^(minimum redundancy requirements|backup maximum age|backup minimum size|failed backups|retention policy settings)\b/i;

/** Checks of WAL streaming, which `barman cron` restores by starting receive-wal (the primary restarted, or just changed). */
const STREAMING = /^(receive-wal running|PostgreSQL streaming|replication slot|WAL archive)\b/i;
const STREAMING_WAIT_MS = 60_000;

/** The failed checks that stop a backup (pure). */
export function blockingChecks(output: string): string[] {
  return failedChecks(output).filter((l) => !NOT_BLOCKING.test(l));
}

export default defineStep('barman-ready', {
  async run(ctx) {
    const { server, cronOut } = barmanPaths(ctx.config);
    const failed = () => new Error(`barman check on ${server} failed: ${blocking.join('; ')}. Fix it on the barman host (barman check ${server} shows the details), then retry this step`);
    // WAL streaming stops whenever the primary restarts; barman cron starts receive-wal again (the
    // scheduled one runs every barman.cronEveryMs): run it now and look again, for a bounded time
    let turn = 0;
    let blocking: string[] = [];
    await pollUntil(
      `barman check on ${server} passes`,
      async () => {
        turn++;
        await ctx.progress(10, turn === 1 ? 'barman check' : `barman check (again: ${turn})`);
        blocking = blockingChecks((await barman(ctx, ['check', server], { allowFail: true, timeoutMs: 120_000 })).stdout);
        if (!blocking.length) return true;
        if (!blocking.every((c) => STREAMING.test(c))) throw failed();
        await barman(ctx, ['cron'], { outputFile: cronOut, timeoutMs: 120_000 });
        return false;
      },
      { timeoutMs: STREAMING_WAIT_MS, everyMs: 2000, signal: ctx.signal, onTimeout: () => failed() },
    );
    await ctx.progress(100, 'barman ready');
    return { ok: true };
  },
});
