// Pure renderer of a node's repmgr.conf.
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import { nodePaths, repmgrNodeId } from '../config/paths.js';

/** libpq conninfo for repmgr's own connections to a node (no password: the passfile has it). */
export function repmgrConninfo(config: ClusterConfig, node: NodeConfig, port = config.postgres.port): string {
  const p = nodePaths(config, node);
  return `host=${node.host} port=${port} user=repmgr dbname=repmgr connect_timeout=2 passfile=${p.passfile}`;
}

export function renderRepmgrConf(config: ClusterConfig, node: NodeConfig, opts: { port?: number } = {}): string {
  const p = nodePaths(config, node);
  const q = (s: string | number) => `'${String(s).replace(/'/g, "''")}'`;
  const lines = [
    '# Managed by pgha: rendered whole on every change; edits here are lost.',
    `node_id=${repmgrNodeId(config, node.name)}`,
    `node_name=${q(node.name)}`,
    `conninfo=${q(repmgrConninfo(config, node, opts.port))}`,
    `data_directory=${q(p.dataDir)}`,
    `pg_bindir=${q(config.postgres.binDir)}`,
    `replication_user='repmgr_streaming'`,
    `passfile=${q(p.passfile)}`,
    `priority=${node.priority}`,
    `location=${q(config.cluster)}`,
    `use_replication_slots=yes`,
    `log_level='INFO'`,
    `log_file=${q(p.repmgrdLog)}`,
    `repmgrd_pid_file=${q(p.repmgrdPid)}`,
    // automatic failover and its follow-up flows arrive with the failover work; until then repmgrd monitors
    `failover='manual'`,
    `monitor_interval_secs=2`,
    `connection_check_type='ping'`,
    `service_start_command=${q(`${config.postgres.binDir}/pg_ctl -D ${p.dataDir} -l ${p.pgLog} -w start`)}`,
    `service_stop_command=${q(`${config.postgres.binDir}/pg_ctl -D ${p.dataDir} -m fast -w stop`)}`,
    `service_restart_command=${q(`${config.postgres.binDir}/pg_ctl -D ${p.dataDir} -l ${p.pgLog} -m fast -w restart`)}`,
  ];
  return lines.join('\n') + '\n';
}
