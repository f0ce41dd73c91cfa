// Typed actions around barman, run as the barman OS user with barman's own passfile.
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
  endTime: string | null;
  sizeBytes: number | null;
}

/** Parse `barman -f json list-backups SERVER` (pure). */
export function parseBackupList(json: string, server: string): BackupInfo[] {
  const doc = JSON.parse(json) as Record<string, any[]>;
  const list = doc[server] ?? [];
  return list.map((b) => ({
    id: String(b.backup_id),
    status: String(b.status),
    endTime: b.end_time_timestamp ? new Date(Number(b.end_time_timestamp) * 1000).toISOString() : (b.end_time ?? null),
    sizeBytes: typeof b.size_bytes === 'number' ? b.size_bytes : null,
  }));
}

export async function listBackups(ctx: BarmanContext): Promise<BackupInfo[]> {
  const server = barmanPaths(ctx.config).server;
  const res = await barman(ctx, ['-f', 'json', 'list-backups', server], { timeoutMs: 60_000, maxLogLines: 5 });
  return parseBackupList(res.stdout, server);
}
