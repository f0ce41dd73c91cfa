// Pure renderers of barman's main config and the cluster's server file.
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import { barmanPaths } from '../config/paths.js';

/** barman's replication slot on the primary it streams from. */
export const BARMAN_SLOT = 'barman';

export function renderBarmanMainConf(config: ClusterConfig, osUser: string): string {
  const p = barmanPaths(config);
  return [
    '; Managed by pgha: rendered whole on every change; edits here are lost.',
    '[barman]',
    `barman_user = ${osUser}`,
    `configuration_files_directory = ${config.barman.configDir}`,
    `barman_home = ${config.barman.backupDir}`,
    `log_file = ${p.log}`,
    'log_level = INFO',
    'compression = gzip',
    '',
  ].join('\n');
}

/** The server file: stream WAL and take backups from the current primary. */
export function renderBarmanServerConf(config: ClusterConfig, primary: NodeConfig): string {
  const p = barmanPaths(config);
  const base = `host=${primary.host} port=${config.postgres.port} connect_timeout=5 passfile=${p.passfile}`;
  return [
    '; Managed by pgha: rendered whole on every change; edits here are lost.',
    `[${p.server}]`,
    `description = pgha cluster ${config.cluster} (primary ${primary.name})`,
    `conninfo = ${base} user=barman dbname=postgres`,
    `streaming_conninfo = ${base} user=barman_streaming`,
    'backup_method = postgres',
    // a backup asked for now starts now, not at the next spread checkpoint (up to checkpoint_timeout)
    'immediate_checkpoint = true',
    'streaming_archiver = on',
    `slot_name = ${BARMAN_SLOT}`,
    'create_slot = auto',
    `path_prefix = ${config.postgres.binDir}`,
    `retention_policy = ${config.barman.retentionPolicy}`,
    `minimum_redundancy = ${config.barman.minimumRedundancy}`,
    '',
  ].join('\n');
}

/** The node a server file rendered by renderBarmanServerConf points at, from its conninfo; null when none matches (pure). */
export function serverConfPrimary(config: ClusterConfig, text: string): string | null {
  const host = /^conninfo = host=(\S+)/m.exec(text)?.[1];
  return config.nodes.find((n) => n.host === host)?.name ?? null;
}
