// `pgha restore`: check the request against what barman holds (nothing is stopped when it is
// wrong), then run the restore flow and follow it.
import type { ClusterConfig } from '../src/config/schema.js';
import { runScenario } from './operations.js';

export interface RestoreOptions {
  backup: string;
  targetTime?: string;
  targetLsn?: string;
  target?: string;
  node?: string;
  yes?: boolean;
}

export async function runRestore(config: ClusterConfig, o: RestoreOptions, say: (s: string) => void = console.log): Promise<number> {
  if (!o.yes) {
    say('restore replaces the data of every node of the cluster with the backup: run it again with --yes');
    return 2;
  }
  const params = { confirm: true, backup: o.backup, targetTime: o.targetTime, targetLsn: o.targetLsn, target: o.target };
  const { code } = await runScenario(config, { scenario: 'restore', node: o.node, params }, say, { refusedCode: 2, timeoutMs: 3 * 3_600_000 });
  return code;
}
