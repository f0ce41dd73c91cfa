// `pgha status`'s table: what readStatus (src/status.ts) read, for a terminal.
import type { ClusterStatus } from '../src/status.js';

/** The status as a fixed-width table, then barman's backups, next backup and last check (pure). */
export function formatStatusTable(s: ClusterStatus): string {
  const head = ['NODE', 'HOST', 'PORT', 'ROLE', 'UPSTREAM', 'TIMELINE', 'LAG BYTES', 'PID'];
  const rows = s.nodes.map((n) => [n.name, n.host, String(n.port), n.role, n.upstream ?? '-', String(n.timeline ?? '-'), String(n.lagBytes ?? '-'), String(n.pid ?? '-')]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const out = [`cluster ${s.cluster}`, line(head), ...rows.map(line), ''];
  const pending = s.nodes.filter((n) => n.pendingRestart?.length);
  for (const n of pending) out.push(`${n.name}: pending restart: ${n.pendingRestart!.join(', ')} (pgha config apply restarts the nodes in turn; pgha restart ${n.name} restarts this one)`);
  if (pending.length) out.push('');
  if (s.automaticFailover?.paused || s.automaticFailover?.maintenance) out.push(s.automaticFailover.message, '');
  if (s.barman.error) out.push(`barman: ${s.barman.error}`);
  else if (!s.barman.backups.length) out.push('barman: no backups yet');
  else for (const b of s.barman.backups) out.push(`barman backup ${b.id}  ${b.status}  ended ${b.endTime ?? '-'}`);
  if (s.barman.nextBackupAt) out.push(`barman next backup ${s.barman.nextBackupAt}`);
  if (s.barman.lastCheck) out.push(`barman check ${s.barman.lastCheck.ok ? 'OK' : `FAILED: ${s.barman.lastCheck.failed.join('; ')}`} at ${s.barman.lastCheck.at}`);
  return out.join('\n');
}
