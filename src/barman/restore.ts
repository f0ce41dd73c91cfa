// Restore planning (pure): which backup, whether a recovery target lies in what barman can replay,
// and where barman recovers to.
import { z } from 'zod';
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import { nodePaths } from '../config/paths.js';
import { bytesToLsn, lsnToBytes } from '../postgres/lsn.js';

/** Where a restore's recovery stops: the one schema of it, for the CLI, the API and the barman-recover step. */
export const RestoreTargetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('latest') }),
  z.object({ kind: z.literal('immediate') }),
  z.object({ kind: z.literal('time'), time: z.string() }),
  z.object({ kind: z.literal('lsn'), lsn: z.string() }),
]);
export type RestoreTarget = z.infer<typeof RestoreTargetSchema>;

export interface RestorableBackup {
  id: string;
  status: string;
  endTime: string | null;
}

/** What a recovery from one backup can reach, read from barman's archive (jobs/barman-restore-plan.ts). */
export interface RestoreReach {
  backupId: string;
  /** The timeline recovery ends on. */
  timeline?: number;
  /** The last commit or abort in the WAL it replays (ISO 8601); null: none after the backup. */
  lastXactTime?: string | null;
  /** Where that WAL ends, and where the backup becomes consistent (LSNs). */
  endLsn?: string | null;
  backupEndLsn?: string | null;
  /** Why no recovery from this backup can succeed. */
  problem?: string;
}

export interface RestorePlanInput {
  backups: RestorableBackup[];
  /** When barman archived its newest WAL file (null: none). */
  lastWalTime: string | null;
  backupId: string;
  target: RestoreTarget;
  /** What the chosen backup's recovery reaches; without it the time target is checked against archive times only. */
  reach?: RestoreReach | null;
}

export type RestorePlan = { ok: true; backupId: string } | { ok: false; problem: string };

export function planRestore(input: RestorePlanInput): RestorePlan {
  const done = input.backups.filter((b) => b.status === 'DONE');
  if (!done.length) return { ok: false, problem: 'barman holds no DONE backup: take one first (pgha backup)' };
  const backup = input.backupId === 'latest' ? done[done.length - 1] : done.find((b) => b.id === input.backupId);
  if (!backup) return { ok: false, problem: `--backup ${input.backupId}: no DONE backup with that id; DONE backups: ${done.map((b) => b.id).join(', ')}` };
  const reach = input.reach?.backupId === backup.id ? input.reach : null;
  if (reach?.problem) return { ok: false, problem: `backup ${backup.id} cannot be restored: ${reach.problem}` };
  if (input.target.kind === 'time') {
    const t = Date.parse(input.target.time);
    if (Number.isNaN(t)) return { ok: false, problem: `--target-time ${input.target.time}: not an ISO 8601 time (like 2026-11-26T13:05:00Z)` };
    const from = backup.endTime ? Date.parse(backup.endTime) : NaN;
    // PostgreSQL stops at the first transaction end past the target: the target must not lie after the last one
    const last = reach ? reach.lastXactTime ?? null : input.lastWalTime;
    const to = last ? Date.parse(last) : NaN;
    const range = `valid range for backup ${backup.id}: ${backup.endTime ?? '?'} to ${last ?? '?'}${reach ? ` (its last transaction in barman's WAL, timeline ${reach.timeline})` : ''}`;
    if (!Number.isNaN(from) && t < from) {
      // an older backup may reach it: the newest that ended by then
      const older = done.filter((b) => b.endTime && Date.parse(b.endTime) <= t).at(-1);
      const hint = older ? `; backup ${older.id} (ended ${older.endTime}) may reach it: add --backup ${older.id}` : '; no older backup ended by then';
      return { ok: false, problem: `--target-time ${input.target.time} is before the end of backup ${backup.id}; ${range}${hint}` };
    }
    if (reach && !last) return { ok: false, problem: `--target-time ${input.target.time}: barman's WAL holds no transaction after backup ${backup.id}, so PostgreSQL could not reach any time target; restore it with --target immediate, or with no target` };
    if (Number.isNaN(to) || t > to) return { ok: false, problem: `--target-time ${input.target.time} is after the ${reach ? 'last transaction recovery from that backup can replay' : 'last archived WAL'}; ${range}` };
  }
  if (input.target.kind === 'lsn') {
    const l = lsnToBytes(input.target.lsn);
    if (l === null) return { ok: false, problem: `--target-lsn ${input.target.lsn}: not an LSN (like 0/5000028)` };
    const lo = reach?.backupEndLsn ? lsnToBytes(reach.backupEndLsn) : null;
    const hi = reach?.endLsn ? lsnToBytes(reach.endLsn) : null;
    // one form for both ends (pg_waldump pads, backup.info does not)
    const range = `valid range for backup ${backup.id}: ${lo === null ? '?' : bytesToLsn(lo)} to ${hi === null ? '?' : bytesToLsn(hi)}`;
    if (lo !== null && l < lo) return { ok: false, problem: `--target-lsn ${input.target.lsn} is before backup ${backup.id} is consistent; ${range}` };
    if (hi !== null && l > hi) return { ok: false, problem: `--target-lsn ${input.target.lsn} is after the end of the WAL recovery from that backup can replay; ${range}` };
  }
  return { ok: true, backupId: backup.id };
}

/**
 * barman recover's options for a target (pure). Every target but the backup's own consistent point
 * follows the timelines to the newest (--target-tli latest): without it barman copies only the WAL of
 * the backup's timeline (its get_required_xlog_files skips any higher timeline), so a backup taken
 * before a failover or switchover would be restored without anything written after that promotion,
 * and the restored node would write on, on a timeline number the archive already holds with another
 * history. With it, the restored node replays across the promotions and takes a new timeline.
 */
export function recoverTargetArgs(target: RestoreTarget): string[] {
  const follow = ['--target-tli', 'latest'];
  switch (target.kind) {
    case 'latest':
      return follow;
    case 'immediate':
      return ['--target-immediate', '--target-action', 'promote'];
    case 'time':
      // PostgreSQL's recovery_target_time takes "2026-11-26 14:11:42.976+00", not ISO's T…Z
      return [...follow, '--target-time', new Date(target.time).toISOString().replace('T', ' ').replace('Z', '+00'), '--target-action', 'promote'];
    case 'lsn':
      return [...follow, '--target-lsn', target.lsn, '--target-action', 'promote'];
  }
}

/**
 * The whole `barman recover` argument list of a restore (pure): barman.recoveryJobs parallel copy
 * workers (--jobs), the ssh command when the node is on another host, the target's options, then
 * server, backup id and destination folder.
 */
export function recoverArgs(config: ClusterConfig, o: { server: string; backupId: string; target: RestoreTarget; destination: string; sshCommand?: string | null }): string[] {
  const remote = o.sshCommand ? ['--remote-ssh-command', o.sshCommand] : [];
  return ['recover', '--jobs', String(config.barman.recoveryJobs), ...remote, ...recoverTargetArgs(o.target), o.server, o.backupId, o.destination];
}

/** The newest archive time in barman's xlog.db ("name size time compression" lines) (pure). */
export function lastWalTime(xlogDb: string): string | null {
  let last = 0;
  for (const line of xlogDb.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length >= 3 && /^[0-9A-F]{24}$/.test(parts[0])) last = Math.max(last, Number(parts[2]));
  }
  return last ? new Date(last * 1000).toISOString() : null;
}

/**
 * Where `barman recover` writes: beside barman's data when barman and the node share a host (local
 * mode), else next to the node's data directory over SSH as the postgres user (barman's
 * --remote-ssh-command; the barman user's key must be in ~postgres/.ssh/authorized_keys there).
 */
export function restoreDestination(config: ClusterConfig, node: NodeConfig, flowId: string): { path: string; sshCommand: string | null } {
  if (config.mode === 'local' || node.host === config.barman.host) return { path: join(config.barman.backupDir, 'restore', flowId), sshCommand: null };
  return { path: `${nodePaths(config, node).dataDir}.restore-${flowId}`, sshCommand: `${config.barman.sshCommand} ${config.osUsers.postgres}@${node.host}` };
}
