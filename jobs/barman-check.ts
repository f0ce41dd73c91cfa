// Scheduled `barman check`: its result is kept (the job's return value) for status.
import { existsSync } from 'node:fs';
import { defineStep } from '../src/step.js';
import { barmanPaths } from '../src/config/paths.js';
import { barman } from '../src/barman/actions.js';

/** The lines of `barman check` that failed (pure). */
export function failedChecks(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /: FAILED/.test(l));
}

export default defineStep('barman-check', {
  async run(ctx) {
    const { server, serverConf } = barmanPaths(ctx.config);
    // before the first start has configured barman there is nothing to check (status shows no result yet)
    if (!existsSync(serverConf)) return { skipped: 'not configured yet' };
    const res = await barman(ctx, ['check', server], { allowFail: true, timeoutMs: 120_000 });
    return { ok: res.exitCode === 0, failed: failedChecks(res.stdout), at: new Date().toISOString() };
  },
});
