// Typed actions around barman, run as the barman OS user with barman's own passfile.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { barmanPaths } from '../config/paths.js';
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import type { CommandResult, Runner, RunOptions } from '../exec/runner.js';
import { ensureDir, writeFileAtomic } from '../fsutil.js';
import { renderPassfile } from '../postgres/render.js';
import { renderBarmanMainConf, renderBarmanServerConf } from './render.js';

export interface BarmanContext {
  config: ClusterConfig;
  run: Runner;
  log(line: string): Promise<void> | void;
}

export function barman(ctx: BarmanContext, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
  const p = barmanPaths(ctx.config);
  return ctx.run.run('barman', ['-c', p.mainConf, ...args], {
    user: ctx.config.osUsers.barman,
    env: { PGPASSFILE: p.passfile },
    timeoutMs: 600_000,
    ...opts,
  });
}

/** Folders, passfile, main config and the server file pointing at `primary`. True when anything changed. */
export function writeBarmanFiles(ctx: BarmanContext, primary: NodeConfig): boolean {
  const p = barmanPaths(ctx.config);
  const owner = ctx.config.osUsers.barman;
  ensureDir(p.stateDir, { owner, mode: 0o750 });
  ensureDir(ctx.config.barman.backupDir, { owner, mode: 0o750 });
  ensureDir(ctx.config.barman.configDir, { mode: 0o755 });
  const changed = [
    writeFileAtomic(
      p.passfile,
      renderPassfile([
        { user: 'barman', password: ctx.config.barman.password },
        { user: 'barman_streaming', password: ctx.config.barman.streamingPassword },
      ]),
      { owner, mode: 0o600 },
    ),
    writeFileAtomic(p.mainConf, renderBarmanMainConf(ctx.config, owner), { owner, mode: 0o640 }),
    writeFileAtomic(p.serverConf, renderBarmanServerConf(ctx.config, primary), { owner, mode: 0o640 }),
  ];
  return changed.some(Boolean);
}

export interface BackupInfo {
  id: string;
  status: string;
  beginTime: string | null;
  endTime: string | null;
  sizeBytes: number | null;
  walBegin: string | null;
  walEnd: string | null;
}

/** Parse `barman -f json list-backups SERVER` (pure). */
export function parseBackupList(json: string, server: string): BackupInfo[] {
  const doc = JSON.parse(json) as Record<string, any[]>;
  const list = doc[server] ?? [];
  // barman lists newest first; ids are timestamps, so oldest first is a string sort
  list.sort((a, b) => String(a.backup_id).localeCompare(String(b.backup_id)));
  const time = (ts: unknown, text: unknown) => (ts ? new Date(Number(ts) * 1000).toISOString() : text ? String(text) : null);
  return list.map((b) => ({
    id: String(b.backup_id),
    status: String(b.status),
    beginTime: time(b.begin_time_timestamp, b.begin_time),
    endTime: time(b.end_time_timestamp, b.end_time),
    sizeBytes: typeof b.size_bytes === 'number' ? b.size_bytes : null,
    walBegin: b.begin_wal ?? null,
    walEnd: b.end_wal ?? null,
  }));
}

/** key=value lines of a backup's backup.info (pure). */
export function parseBackupInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/**
 * barman's catalogue read from its backup.info files, oldest first: id, status and first WAL file (no
 * barman run: each costs about a second of Python start-up, and the first backup is on the
 * bootstrap's critical path).
 */
export function catalogue(config: ClusterConfig): { id: string; status: string; beginWal: string | null }[] {
  const base = join(config.barman.backupDir, barmanPaths(config).server, 'base');
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .flatMap((id) => {
      try {
        const info = parseBackupInfo(readFileSync(join(base, id, 'backup.info'), 'utf8'));
        return [{ id, status: info.status ?? 'UNKNOWN', beginWal: info.begin_wal && info.begin_wal !== 'None' ? info.begin_wal : null }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Ids of the DONE backups, oldest first. */
export const doneBackupIds = (config: ClusterConfig): string[] => catalogue(config).filter((b) => b.status === 'DONE').map((b) => b.id);

/** Whether a `barman backup` runs on this server now: it holds barman's server backup lock (flock on `.<server>-backup.lock` in barman_home). */
export async function backupRunning(ctx: BarmanContext): Promise<boolean> {
  const p = barmanPaths(ctx.config);
  const lock = join(ctx.config.barman.backupDir, `.${p.server}-backup.lock`);
  if (!existsSync(lock)) return false;
  // flock(1) and barman's fcntl.flock take the same kind of lock: exit 1 means barman holds it
  const res = await ctx.run.run('flock', ['--nonblock', '--conflict-exit-code', '75', lock, 'true'], { user: ctx.config.osUsers.barman, allowFail: true, timeoutMs: 10_000, maxLogLines: 0 });
  return res.exitCode === 75;
}

/**
 * Delete the backups that an interrupted attempt left in barman's catalogue: FAILED ones (barman
 * saw the error) and, when no `barman backup` holds the server's lock, STARTED ones (barman was
 * killed with its worker). They can never be restored, and `barman check` fails while a FAILED one
 * is listed. barman's delete checks the same lock again. Returns the deleted ids. Throws when
 * `barman delete` fails and the backup is still listed (a retry may help: the reconcile tries again).
 */
export async function deleteFailedBackups(ctx: BarmanContext): Promise<string[]> {
  // the catalogue first, then the lock: a STARTED backup read before a free lock is an orphan (a
  // backup started since has another id); each one's status is read again just before its delete
  let stale = catalogue(ctx.config).filter((b) => b.status === 'FAILED' || b.status === 'STARTED');
  if (stale.some((b) => b.status === 'STARTED') && (await backupRunning(ctx))) stale = stale.filter((b) => b.status === 'FAILED');
  const deleted: string[] = [];
  for (const b of stale) {
    const now = catalogue(ctx.config).find((x) => x.id === b.id);
    if (!now || now.status !== b.status) continue; // finished, or deleted by another step meanwhile
    await ctx.log(`backup ${b.id} is ${b.status} but no barman backup runs (an earlier attempt was interrupted): deleting it from barman's catalogue`);
    const res = await barman(ctx, ['delete', barmanPaths(ctx.config).server, b.id], { timeoutMs: 120_000, allowFail: true });
    // another step deleting the same backup at the same time is not a failure
    if (res.exitCode !== 0 && catalogue(ctx.config).some((x) => x.id === b.id)) throw new Error(`barman delete ${b.id} failed (exit ${res.exitCode}); see the lines above`);
    deleted.push(b.id);
  }
  return deleted;
}

export async function listBackups(ctx: BarmanContext): Promise<BackupInfo[]> {
  const server = barmanPaths(ctx.config).server;
  const res = await barman(ctx, ['-f', 'json', 'list-backups', server], { timeoutMs: 60_000, maxLogLines: 5 });
  const list = parseBackupList(res.stdout, server);
  // begin time and WAL range are not in list-backups' JSON: barman keeps them in backup.info
  return list.map((b) => {
    try {
      const info = parseBackupInfo(readFileSync(join(ctx.config.barman.backupDir, server, 'base', b.id, 'backup.info'), 'utf8'));
      const iso = (t?: string) => (t && t !== 'None' ? new Date(t.replace(' ', 'T')).toISOString() : null);
      return { ...b, beginTime: iso(info.begin_time) ?? b.beginTime, walBegin: info.begin_wal ?? b.walBegin, walEnd: info.end_wal ?? b.walEnd };
    } catch {
      return b;
    }
  });
}
