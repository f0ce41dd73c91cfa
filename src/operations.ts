// `pgha restart|switchover|failover`: build the flow from the live topology, enqueue, follow it.
import type { ClusterConfig } from './config/schema.js';
import { findNode } from './config/paths.js';
import { buildPlannedRestartFlow, buildRoleChangeFlow } from './flows/operations.js';
import { enqueueFlow, watchFlows } from './flows/run.js';
import { redisConnection } from './redis.js';
import { readNodes } from './status.js';

export async function runOperation(config: ClusterConfig, verb: 'restart' | 'switchover' | 'failover', node: string, say: (s: string) => void = console.log): Promise<number> {
  findNode(config, node);
  const stamp = Date.now();
  let flow;
  if (verb === 'restart') flow = buildPlannedRestartFlow(config, node, `${config.cluster}-restart-${node}-${stamp}`);
  else {
    const nodes = await readNodes(config);
    const primaries = nodes.filter((n) => n.role === 'primary');
    const target = nodes.find((n) => n.name === node)!;
    if (target.role !== 'standby') {
      say(`--to ${node}: it is ${target.role}, not a running standby; pick one of: ${nodes.filter((n) => n.role === 'standby').map((n) => n.name).join(', ') || 'none'}`);
      return 1;
    }
    if (verb === 'failover' && primaries.length) {
      say(`failover --to ${node} refused: ${primaries.map((n) => n.name).join(', ')} still accepts writes; for a planned change use pgha switchover --to ${node}`);
      return 1;
    }
    if (verb === 'switchover' && primaries.length !== 1) {
      say(`switchover needs exactly one running primary, found ${primaries.length}; for a dead primary use pgha failover --to ${node}`);
      return 1;
    }
    const followers = nodes.filter((n) => n.role === 'standby').map((n) => n.name);
    flow = buildRoleChangeFlow(config, { mode: verb, from: primaries[0]?.name ?? null, to: node, flowId: `${config.cluster}-${verb}-${node}-${stamp}`, followers });
  }
  const connection = redisConnection(config.redis.url);
  try {
    await enqueueFlow(connection, flow.tree);
    say(`flow ${flow.flowId}`);
    const result = await watchFlows(connection, [flow], {
      onStep: (s) => say(`  ✓ ${s.queueName.split('.').slice(1).join('.').padEnd(12)} ${s.step.padEnd(22)} ${s.durationMs !== undefined ? `${(s.durationMs / 1000).toFixed(1)} s` : ''}`),
    });
    if (!result.ok) {
      say(`FAILED: step ${result.failed!.step} (job ${result.failed!.jobId}): ${result.failed!.failedReason}`);
      if (verb !== 'restart' || result.failed!.step !== 'decide-and-start') say('repmgrd may still be paused cluster-wide: fix the cause and retry the step from the dashboard, or run repmgr service unpause');
      return 1;
    }
    say(`${verb} done`);
    return 0;
  } finally {
    connection.disconnect();
  }
}
