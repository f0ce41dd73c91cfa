// The CLI's flow commands (restart, switchover, failover, backup, restore, pause, resume, reinit,
// config apply, flow first-start): the typed client (src/client.ts) over Redis and the nodes, which
// checks and plans through the same code as POST /api/flows, then follows the flow.
import { hostname, userInfo } from 'node:os';
import type { ClusterConfig } from '../src/config/schema.js';
import type { FlowRequest } from '../src/scenarios.js';
import { FlowFailedError, PghaClient, PghaError, WaitTimeout, type FlowSummary } from '../src/client.js';
import type { StepState } from '../src/flows/run.js';

export interface RunScenarioOptions {
  /** Exit code when the request is refused before anything ran (restore: 2), or one by the refusal's status (400: the request is wrong, 409: the cluster's state). */
  refusedCode?: number | ((status: 400 | 409) => number);
  /** Only enqueue and print the flow id (pgha flow first-start). */
  noWait?: boolean;
  timeoutMs?: number;
  /** What to say when the flow failed, after the failed step. */
  onFailure?: (failed: StepState) => string | undefined;
}

export async function runScenario(
  config: ClusterConfig,
  request: FlowRequest,
  say: (s: string) => void = console.log,
  o: RunScenarioOptions = {},
): Promise<{ code: number; result?: FlowSummary }> {
  const client = PghaClient.connect({ config });
  try {
    let started;
    try {
      started = await client.startFlowWithSummary(request.scenario, { node: request.node, params: request.params });
    } catch (err) {
      if (!(err instanceof PghaError) || (err.status !== 400 && err.status !== 409)) throw err;
      for (const d of err.details) say(d.path && d.path !== 'node' && !d.path.startsWith('params') ? `${d.path}: ${d.message}` : d.message);
      return { code: typeof o.refusedCode === 'function' ? o.refusedCode(err.status as 400 | 409) : (o.refusedCode ?? 1) };
    }
    if (o.noWait) {
      say(started.flowId);
      return { code: 0 };
    }
    say(`flow ${started.flowId}: ${started.summary}`);
    const reported = new Set<string>();
    const onProgress = (f: FlowSummary) => {
      for (const st of f.steps) {
        if (st.state !== 'completed' || reported.has(st.jobId)) continue;
        reported.add(st.jobId);
        say(`  ✓ ${st.queueName.split('.').slice(1).join('.').padEnd(12)} ${st.step.padEnd(22)} ${st.durationMs !== undefined ? `${(st.durationMs / 1000).toFixed(1)} s` : ''}`);
      }
    };
    try {
      const result = await client.waitFlow(started.flowId, { timeoutMs: o.timeoutMs, onProgress });
      onProgress(result);
      say(`${started.scenario} done`);
      return { code: 0, result };
    } catch (err) {
      if (err instanceof WaitTimeout) {
        say(`FAILED: flow ${started.flowId} still runs after ${err.timeoutMs / 1000} s; it goes on in its workers: follow it in the dashboard (Bull Board) or with GET /api/flows/${started.flowId}`);
        return { code: 1 };
      }
      if (!(err instanceof FlowFailedError)) throw err;
      const failed = err.failed!;
      say(`FAILED: step ${failed.step} (job ${failed.jobId}): ${failed.state === 'missing' ? `job ${failed.jobId} is gone from ${failed.queueName} (removed or trimmed); enqueue the flow again` : failed.failedReason}`);
      const more = o.onFailure?.(failed);
      if (more) say(more);
      return { code: 1, result: err.flow };
    }
  } finally {
    await client.close();
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
    onFailure: (failed) =>
      verb !== 'restart' || failed.step !== 'decide-and-start'
        ? 'automatic failover may still be paused cluster-wide by this flow: fix the cause and retry the failed step from the dashboard (the flow then resumes it), or give up the flow with pgha resume --force'
        : undefined,
  });
  return code;
}

/** `pgha pause|resume`: maintenance mode, recorded as the OS user at this host; resume says what still holds failover paused. */
export async function runMaintenance(config: ClusterConfig, verb: 'pause' | 'resume', params: { reason?: string; force?: boolean }, say: (s: string) => void = console.log): Promise<number> {
  const by = `${userInfo().username}@${hostname()}`;
  const { code, result } = await runScenario(config, { scenario: verb, params: { ...params, by } }, say);
  const last = result?.steps.at(-1)?.returnValue as { paused?: boolean; heldBy?: string[]; election?: { flowId: string; node: string } } | undefined;
  if (verb === 'resume' && last?.paused) say(`automatic failover stays PAUSED: held by ${last.heldBy?.join(', ') || 'a flow'}`);
  if (last?.election) say(`no primary, and no repmgrd elects one after the pause: flow ${last.election.flowId} promotes ${last.election.node} (follow it in the dashboard)`);
  return code;
}

/** `pgha config apply`: postgres.parameters rolled out; a parameter PostgreSQL or pgha refuses exits 2 with nothing touched. */
export async function runApplyConfig(config: ClusterConfig, say: (s: string) => void = console.log): Promise<number> {
  const { code, result } = await runScenario(config, { scenario: 'apply-config' }, say, { refusedCode: (status) => (status === 400 ? 2 : 1), timeoutMs: 30 * 60_000 });
  const pending = (result?.steps ?? []).filter((st) => st.step === 'write-parameters').flatMap((st) => ((st.returnValue as { pendingRestart?: string[] } | undefined)?.pendingRestart ?? []).map((n) => `${st.queueName.split('.').at(-1)}: ${n}`));
  if (code === 0 && pending.length) say(`pending restart after the reload (restarted by this flow): ${pending.join(', ')}`);
  return code;
}
