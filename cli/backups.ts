// `pgha backup` and `pgha backup list`: jobs on the barman queue (barman runs on its own host).
import type { ClusterConfig } from '../src/config/schema.js';
import type { BackupInfo } from '../src/barman/actions.js';
import { runScenario } from './operations.js';
import { runBarmanJob } from '../src/flows/jobs.js';

const mib = (b: number | null | undefined) => (b === null || b === undefined ? '?' : `${(b / 2 ** 20).toFixed(1)} MiB`);

/** `pgha backup`: the backup flow (barman ready, then a backup), followed; prints the backup's id and size. */
export async function backupNow(config: ClusterConfig, say: (s: string) => void = console.log): Promise<number> {
  const { code, result } = await runScenario(config, { scenario: 'backup' }, say, { timeoutMs: 30 * 60_000 });
  if (code !== 0) return code;
  const r = result!.steps.find((s) => s.step === 'barman-backup')!.returnValue as { backupId?: string; sizeBytes?: number; skipped?: string };
  if (r.skipped) {
    say(`no backup taken: ${r.skipped}`);
    return 1;
  }
  say(`backup ${r.backupId} DONE, ${mib(r.sizeBytes)}`);
  return 0;
}

export async function backupList(config: ClusterConfig, json: boolean, say: (s: string) => void = console.log): Promise<number> {
  const { backups } = await runBarmanJob<{ backups: BackupInfo[] }>(config, 'barman-list-backups', 60_000);
  if (json) say(JSON.stringify(backups, null, 2));
  else if (!backups.length) say('no backups');
  else for (const b of backups) say(`${b.id}  ${b.status.padEnd(8)} ${b.beginTime ?? '-'} → ${b.endTime ?? '-'}  ${mib(b.sizeBytes).padStart(10)}  WAL ${b.walBegin ?? '-'} … ${b.walEnd ?? '-'}`);
  return 0;
}
