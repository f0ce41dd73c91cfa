// Before an on-demand backup: `barman check` must pass on everything a backup needs, so a DBA sees
// "barman check: directories FAILED" here rather than a backup that hangs or fails half-way.
import { z } from 'zod';
import { defineStep } from '../src/step.js';
import { barmanPaths } from '../src/config/paths.js';
import { barman } from '../src/barman/actions.js';
import { failedChecks } from './barman-check.js';

/** Checks that a new backup cures or that do not stop one from being taken. */
const NOT_BLOCKING = /^(minimum redundancy requirements|backup maximum age|backup minimum size|failed backups|retention policy settings)\b/i;

/** The failed checks that stop a backup (pure). */
export function blockingChecks(output: string): string[] {
  return failedChecks(output).filter((l) => !NOT_BLOCKING.test(l));
}

export default defineStep({
  name: 'barman-ready',
  schema: z.object({ cluster: z.string() }),
  async run(ctx) {
    const { server } = barmanPaths(ctx.config);
    await ctx.progress(10, 'barman check');
    const res = await barman(ctx, ['check', server], { allowFail: true, timeoutMs: 120_000 });
    const blocking = blockingChecks(res.stdout);
    if (blocking.length) {
      throw new Error(`barman check on ${server} failed: ${blocking.join('; ')}. Fix it on the barman host (barman check ${server} shows the details), then retry this step`);
    }
    await ctx.progress(100, 'barman ready');
    return { ok: true };
  },
});
