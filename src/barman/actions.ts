// Typed actions around barman, run as the barman OS user with barman's own passfile.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { barmanPaths } from '../config/paths.js';
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import type { CommandResult, Runner, RunOptions } from '../exec/runner.js';
import { ensureDir, writeFileAtomic } from '../fsutil.js';
import { renderPassfile } from '../postgres/render.js';
import { connectAs, dropClient } from '../postgres/actions.js';
import { sleep } from '../wait.js';
import type pg from 'pg';
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

/**
 * `barman switch-wal --force --archive`: the primary closes its current WAL file and barman waits up to
 * `archiveTimeoutS` seconds until that file is archived. True when it was (barman exit 0); false when
 * not (a retry may help: WAL streaming may not have started yet). Never throws for barman's exit code.
 *
 * barman archives a complete file from its streaming folder only once pg_receivewal has opened the
 * next one (barman's StreamingWalArchiver.get_next_batch keeps the newest full file when no .partial
 * file follows it), and pg_receivewal opens the next file only when the primary writes WAL again: on
 * an idle primary (after a restore) the switched file waited 11.5 s, until PostgreSQL's next
 * running-transactions record (every 15 s). So while barman waits, each half second with no .partial
 * file in the streaming folder, one WAL record is written on `primary` (pg_logical_emit_message,
 * non-transactional: no commit, nothing that waits for a synchronous standby; as repmgr, a
 * superuser). A record that cannot be written, or no `primary` known, only leaves barman to wait as before.
 */
export async function switchWalArchived(ctx: BarmanContext & { signal?: AbortSignal }, primary: NodeConfig | undefined, archiveTimeoutS = 30): Promise<boolean> {
  const { server, streamingDir } = barmanPaths(ctx.config);
  let settled = false;
  const switched = barman(ctx, ['switch-wal', '--force', '--archive', '--archive-timeout', String(archiveTimeoutS), server], { allowFail: true, timeoutMs: (archiveTimeoutS + 60) * 1000 }).finally(() => (settled = true));
  // awaited below; a throw in the loop must not leave its rejection unhandled
  switched.catch(() => {});
  let client: pg.Client | undefined;
  let nudged = 0;
  try {
    while (!settled && !ctx.signal?.aborted) {
      await Promise.race([switched, sleep(500)]);
      if (settled || !primary) continue;
      try {
        if (!waitsForNextWalFile(existsSync(streamingDir) ? readdirSync(streamingDir) : [])) continue;
        client ??= await connectAs(ctx.config, primary, { user: 'repmgr', timeoutMs: 3000, queryTimeoutMs: 5000 });
        await client.query("SELECT pg_logical_emit_message(false, 'pgha', 'barman switch-wal')");
        nudged++;
      } catch {
        // barman goes on waiting on its own; a connection that failed (a frozen primary) is dropped, not waited for
        dropClient(client);
        client = undefined;
      }
    }
    const res = await switched;
    if (nudged) {
      const outcome = res.exitCode === 0 ? 'barman archived the switched one' : `barman still did not archive it (exit ${res.exitCode})`;
      await ctx.log(`wrote ${nudged} WAL record(s) on ${primary!.name} so that pg_receivewal would open the next WAL file: ${outcome}`);
    }
    return res.exitCode === 0;
  } finally {
    // never waits for a primary that stopped answering (frozen, cut off)
    dropClient(client);
  }
}

/**
 * Whether barman's streaming folder (its file names) shows pg_receivewal between two WAL files: no
 * .partial file, so barman keeps the newest complete one unarchived until the primary writes WAL
 * again (pure). An empty folder too: receive-wal may not stream yet, and a WAL record does no harm.
 */
export function waitsForNextWalFile(names: string[]): boolean {
  return !names.some((f) => f.endsWith('.partial'));
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

/** key=value lines of a backup's backup.info (pure). */
export function parseBackupInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** barman's "None", or a time in backup.info's format ("2026-12-02 06:44:42.893049+00:00"), as ISO (pure). */
function infoTime(t: string | undefined): string | null {
  if (!t || t === 'None') return null;
  const d = new Date(t.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * One backup from its backup.info text (pure): status as barman writes it (STARTED, WAITING_FOR_WALS,
 * DONE, FAILED…), begin/end time, size in bytes (the base backup's `size`: without the WAL archived
 * since), first and last WAL file.
 */
export function backupInfoOf(id: string, text: string): BackupInfo {
  const info = parseBackupInfo(text);
  const wal = (w: string | undefined) => (w && w !== 'None' ? w : null);
  const size = Number(info.size);
  return {
    id,
    status: info.status ?? 'UNKNOWN',
    beginTime: infoTime(info.begin_time),
    endTime: infoTime(info.end_time),
    sizeBytes: info.size && Number.isFinite(size) ? size : null,
    walBegin: wal(info.begin_wal),
    walEnd: wal(info.end_wal),
  };
}

/**
 * barman's catalogue read from its backup.info files, oldest first (no barman run: each costs about a
 * second of Python start-up, on the bootstrap's and the restore's critical paths; and `barman
 * list-backups` itself was seen failing with a Python exception while a backup waited for its WAL).
 */
export function catalogue(config: ClusterConfig): BackupInfo[] {
  const base = join(config.barman.backupDir, barmanPaths(config).server, 'base');
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .flatMap((id) => {
      try {
        return [backupInfoOf(id, readFileSync(join(base, id, 'backup.info'), 'utf8'))];
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

