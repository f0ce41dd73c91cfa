// Restore, before anything stops (barman host): what barman holds, to check the request against, and
// what the chosen backup's recovery can reach (the last transaction in the WAL it would replay).
import { historyFileTimeline } from '../src/roles/timeline.js';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { defineStep, type StepContext } from '../src/step.js';
import { barmanPaths } from '../src/config/paths.js';
import { catalogue, parseBackupInfo, switchWalArchived, type BackupInfo } from '../src/barman/actions.js';
import { lastWalTime, type RestoreReach } from '../src/barman/restore.js';
import { lsnToBytes } from '../src/postgres/lsn.js';
import { recoveryPath, segmentsToReplay, summarizeWalDump } from '../src/barman/wal.js';

/** Segments read back from the end of the WAL looking for the last transaction (16 MiB each, decompressed one at a time). */
const MAX_SEGMENTS_READ = 32;

const readMaybeGzip = (path: string) => {
  const raw = readFileSync(path);
  return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
};

/** What a recovery from `backup` replays and the last transaction in it (pg_waldump over the newest segments). */
async function reachOf(ctx: StepContext, backup: BackupInfo): Promise<RestoreReach> {
  const { server } = barmanPaths(ctx.config);
  const wals = join(ctx.config.barman.backupDir, server, 'wals');
  const info = parseBackupInfo(readFileSync(join(ctx.config.barman.backupDir, server, 'base', backup.id, 'backup.info'), 'utf8'));
  const start = lsnToBytes(info.begin_xlog ?? '');
  const timeline = Number(info.timeline);
  if (start === null || !Number.isInteger(timeline)) return { backupId: backup.id, problem: `backup ${backup.id}: its backup.info has no begin_xlog/timeline` };
  const histories = new Map<number, string>();
  for (const f of readdirSync(wals)) {
    const t = historyFileTimeline(f);
    if (t !== null) histories.set(t, readMaybeGzip(join(wals, f)).toString('utf8'));
  }
  const path = recoveryPath(timeline, start, histories);
  if ('problem' in path) return { backupId: backup.id, problem: path.problem };
  const files = readdirSync(wals).filter((d) => /^[0-9A-F]{16}$/.test(d)).flatMap((d) => readdirSync(join(wals, d)));
  const segments = segmentsToReplay(files, path);
  if (!segments.length) return { backupId: backup.id, timeline: path.timeline, problem: `barman holds no WAL from backup ${backup.id}'s start (${info.begin_wal})` };
  const tmp = mkdtempSync(join(tmpdir(), 'pgha-waldump-'));
  try {
    let endLsn: string | null = null;
    let lastXactTime: string | null = null;
    for (const seg of segments.slice(-MAX_SEGMENTS_READ).reverse()) {
      const file = join(tmp, seg.name);
      writeFileSync(file, readMaybeGzip(join(wals, seg.name.slice(0, 16), seg.name)));
      // pg_waldump exits 1 at the end of the WAL ("invalid record length"): its records are what counts
      const dump = await ctx.run.run(join(ctx.config.postgres.binDir, 'pg_waldump'), [file], { allowFail: true, env: { TZ: 'UTC' }, maxLogLines: 2, timeoutMs: 120_000 });
      rmSync(file, { force: true });
      const s = summarizeWalDump(dump.stdout);
      endLsn ??= s.lastLsn;
      if (s.lastXactTime) {
        lastXactTime = s.lastXactTime;
        break;
      }
    }
    await ctx.log(`backup ${backup.id} replays ${segments.length} WAL segments to timeline ${path.timeline}: last transaction ${lastXactTime ?? 'none after the backup'}, WAL ends at ${endLsn ?? '?'}`);
    return { backupId: backup.id, timeline: path.timeline, lastXactTime, endLsn, backupEndLsn: info.end_xlog ?? null };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export default defineStep('barman-restore-plan', {
  async run(ctx, data) {
    const { server } = barmanPaths(ctx.config);
    // with no target a restore replays every WAL barman holds: close the current segment first
    if (data.switchWal) await switchWalArchived(ctx, ctx.config.nodes.find((n) => n.name === data.primary));
    const xlog = join(ctx.config.barman.backupDir, server, 'wals', 'xlog.db');
    const backups = catalogue(ctx.config);
    const done = backups.filter((b) => b.status === 'DONE');
    const chosen = data.backup === 'latest' ? done[done.length - 1] : done.find((b) => b.id === data.backup);
    const pgWaldump = join(ctx.config.postgres.binDir, 'pg_waldump');
    let reach: RestoreReach | null = null;
    if (data.reach && chosen) {
      if (existsSync(pgWaldump)) reach = await reachOf(ctx, chosen);
      else await ctx.log(`${pgWaldump} is missing on this host (package postgresql-15): the recovery target is checked against archive times only`);
    }
    return { backups, lastWalTime: existsSync(xlog) ? lastWalTime(readFileSync(xlog, 'utf8')) : null, reach };
  },
});
