// `pgha restore`: check the request against what barman holds (nothing is stopped when it is
// wrong), then run the restore flow and follow it.
import type { ClusterConfig } from './config/schema.js';
import { findNode, masterNode } from './config/paths.js';
import { planRestore, type RestoreTarget } from './barman/restore.js';
import type { BackupInfo } from './barman/actions.js';
import { buildRestoreFlow } from './flows/operations.js';
import { enqueueFlow, watchFlows } from './flows/run.js';
import { redisConnection } from './redis.js';
import { readNodes } from './status.js';
import { runBarmanJob } from './backups.js';

export interface RestoreOptions {
  backup: string;
  targetTime?: string;
  targetLsn?: string;
  target?: string;
  node?: string;
  yes?: boolean;
}

/** The recovery target from the command line's options (pure). */
export function parseTarget(o: RestoreOptions): RestoreTarget | string {
  const given = [o.targetTime, o.targetLsn, o.target].filter((x) => x !== undefined);
  if (given.length > 1) return 'give one of --target-time, --target-lsn, --target immediate';
  if (o.target !== undefined && o.target !== 'immediate') return `--target ${o.target}: the only named target is "immediate"`;
  if (o.target === 'immediate') return { kind: 'immediate' };
  if (o.targetTime !== undefined) return { kind: 'time', time: o.targetTime };
  if (o.targetLsn !== undefined) return { kind: 'lsn', lsn: o.targetLsn };
  return { kind: 'latest' };
}

export async function runRestore(config: ClusterConfig, o: RestoreOptions, say: (s: string) => void = console.log): Promise<number> {
  if (!o.yes) {
    say('restore replaces the data of every node of the cluster with the backup: run it again with --yes');
    return 2;
  }
  const target = parseTarget(o);
  if (typeof target === 'string') {
    say(target);
    return 2;
  }
  const nodes = await readNodes(config);
  const down = nodes.filter((n) => n.role === 'down');
  if (down.length) {
    say(`${down.map((n) => n.name).join(', ')} down: a restore needs every node's worker and PostgreSQL running (start them, or remove the node from pgha.yaml)`);
    return 2;
  }
  const primary = nodes.find((n) => n.role === 'primary');
  const node = o.node ? findNode(config, o.node).name : (primary?.name ?? masterNode(config).name);
  const plan = await runBarmanJob<{ backups: BackupInfo[]; lastWalTime: string | null }>(config, 'barman-restore-plan', 120_000, { switchWal: target.kind === 'latest' || target.kind === 'time' });
  const checked = planRestore({ backups: plan.backups, lastWalTime: plan.lastWalTime, backupId: o.backup, target });
  if (!checked.ok) {
    say(`restore refused, nothing was stopped: ${checked.problem}`);
    return 2;
  }
  const flow = buildRestoreFlow(config, { target: node, backupId: checked.backupId, recoveryTarget: target as unknown as Record<string, unknown>, flowId: `${config.cluster}-restore-${Date.now()}`, pauseVia: primary?.name ?? node });
  const connection = redisConnection(config.redis.url);
  try {
    await enqueueFlow(connection, flow.tree);
    say(`flow ${flow.flowId}: backup ${checked.backupId} into ${node}`);
    const result = await watchFlows(connection, [flow], { timeoutMs: 3 * 3_600_000, onStep: (s) => say(`  ✓ ${s.queueName.split('.').slice(1).join('.').padEnd(12)} ${s.step}`) });
    if (!result.ok) {
      say(`FAILED: step ${result.failed!.step} (job ${result.failed!.jobId}): ${result.failed!.failedReason}`);
      return 1;
    }
    say('restore done');
    return 0;
  } finally {
    connection.disconnect();
  }
}
