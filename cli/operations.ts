// The CLI's flow commands (restart, switchover, failover, backup, restore, pause, resume, reinit, flow first-start): plan
// through the same code as POST /api/flows (src/scenarios.ts), enqueue, then follow the flow.
import { hostname, userInfo } from 'node:os';
import type { ClusterConfig } from '../src/config/schema.js';
import { planScenario, type FlowRequest } from '../src/scenarios.js';
import { enqueueFlow, watchFlows, type WatchResult } from '../src/flows/run.js';
import { redisConnection } from '../src/redis.js';

export interface RunScenarioOptions {
  /** Exit code when the request is refused before anything ran (restore: 2). */
  refusedCode?: number;
  /** Only enqueue and print the flow id (pgha flow first-start). */
  noWait?: boolean;
  timeoutMs?: number;
  /** What to say when the flow failed, after the failed step. */
  onFailure?: (r: WatchResult) => string | undefined;
}

export async function runScenario(
  config: ClusterConfig,
  request: FlowRequest,
  say: (s: string) => void = console.log,
  o: RunScenarioOptions = {},
): Promise<{ code: number; result?: WatchResult }> {
  const planned = await planScenario(config, request);
  if (!planned.ok) {
    for (const d of planned.details) say(d.path && d.path !== 'node' && !d.path.startsWith('params') ? `${d.path}: ${d.message}` : d.message);
    return { code: o.refusedCode ?? 1 };
  }
  const connection = redisConnection(config.redis);
  try {
    await enqueueFlow(connection, planned, planned.scenario);
    if (o.noWait) {
      say(planned.flowId);
      return { code: 0 };
    }
    say(`flow ${planned.flowId}: ${planned.summary}`);
    const result = await watchFlows(connection, [planned], {
      timeoutMs: o.timeoutMs,
      onStep: (s) => say(`  ✓ ${s.queueName.split('.').slice(1).join('.').padEnd(12)} ${s.step.padEnd(22)} ${s.durationMs !== undefined ? `${(s.durationMs / 1000).toFixed(1)} s` : ''}`),
    });
    if (!result.ok) {
      say(`FAILED: step ${result.failed!.step} (job ${result.failed!.jobId}): ${result.failed!.failedReason}`);
      const more = o.onFailure?.(result);
      if (more) say(more);
      return { code: 1, result };
    }
    say(`${planned.scenario} done`);
    return { code: 0, result };
  } finally {
    connection.disconnect();
  }
}

/** `pgha restart|switchover|failover`. */
export async function runOperation(
  config: ClusterConfig,
  verb: 'restart' | 'switchover' | 'failover',
  node: string,
  say: (s: string) => void = console.log,
  params?: Record<string, unknown>,
): Promise<number> {
  const { code } = await runScenario(config, { scenario: verb, node, ...(params ? { params } : {}) }, say, {
    onFailure: (r) =>
      verb !== 'restart' || r.failed!.step !== 'decide-and-start'
        ? 'repmgrd may still be paused cluster-wide: fix the cause and retry the step from the dashboard, or run repmgr service unpause'
        : undefined,
  });
  return code;
}

/** `pgha pause|resume`: maintenance mode, recorded as the OS user at this host; resume says what still holds failover paused. */
export async function runMaintenance(config: ClusterConfig, verb: 'pause' | 'resume', params: { reason?: string; force?: boolean }, say: (s: string) => void = console.log): Promise<number> {
  const by = `${userInfo().username}@${hostname()}`;
  const { code, result } = await runScenario(config, { scenario: verb, params: { ...params, by } }, say);
  const last = result?.states.at(-1)?.returnValue as { paused?: boolean; heldBy?: string[]; election?: { flowId: string; node: string } } | undefined;
  if (verb === 'resume' && last?.paused) say(`automatic failover stays PAUSED: held by ${last.heldBy?.join(', ') || 'a flow'}`);
  if (last?.election) say(`no primary, and no repmgrd elects one after the pause: flow ${last.election.flowId} promotes ${last.election.node} (follow it in the dashboard)`);
  return code;
}
