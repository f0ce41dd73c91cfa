// Pure renderer of a node's repmgr.conf.
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import { nodePaths, repmgrNodeId } from '../config/paths.js';
import { REPMGR_CONNECT_TIMEOUT_SECS } from '../roles/fence.js';

/**
 * libpq's TCP settings for every connection between nodes: a peer cut off the network is given up
 * after about 5 s, instead of a call blocking until the kernel's retransmissions end (~15 min). Seen
 * on the namespace test bed: a standby's repmgrd, mid-query to the primary when its link was cut,
 * hung there and never promoted itself although its sibling had elected it.
 */
export const CUT_DETECTION = 'keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=3 tcp_user_timeout=5000';

/**
 * libpq conninfo for repmgr's connections to a node. It is stored in repmgr's metadata and used from
 * every host, so it names no passfile (each host's repmgr has its own through PGPASSFILE / passfile=).
 * repmgr also builds the standbys' primary_conninfo from it, so the walreceivers get CUT_DETECTION too.
 */
export function repmgrConninfo(config: ClusterConfig, node: NodeConfig, port = config.postgres.port): string {
  return `host=${node.host} port=${port} user=repmgr dbname=repmgr connect_timeout=${REPMGR_CONNECT_TIMEOUT_SECS} ${CUT_DETECTION}`;
}

/** Seconds before repmgrd reruns an election whose candidate the promotion rule refused. */
export const ELECTION_RERUN_SECS = 5;

/** Files pg_rewind must not take from the new primary: this node's own addresses and access rules. */
export const KEEP_ON_REWIND = ['pgha.conf', 'pg_hba.conf', 'pg_ident.conf', 'postgresql.conf'];

export interface RepmgrHooks {
  /** Command repmgrd runs for each event (enqueues the follow-up flow); absent: no notifications. */
  eventCommand?: string;
  /** Command a primary runs when it has lost every standby for fenceAfterSecs. */
  fenceCommand?: string;
  /** Command repmgrd runs on the promotion candidate before promoting it; non-zero: no promotion, the election runs again. */
  validationCommand?: string;
}

export function renderRepmgrConf(config: ClusterConfig, node: NodeConfig, opts: { port?: number; hooks?: RepmgrHooks } = {}): string {
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
    `failover=${q(config.repmgr.failover)}`,
    `promote_command=${q(`repmgr standby promote -f ${p.repmgrConf} --log-to-file`)}`,
    `follow_command=${q(`repmgr standby follow -f ${p.repmgrConf} --log-to-file --upstream-node-id=%n`)}`,
    `monitor_interval_secs=${config.repmgr.monitorIntervalSecs}`,
    `reconnect_attempts=${config.repmgr.reconnectAttempts}`,
    `reconnect_interval=${config.repmgr.reconnectIntervalSecs}`,
    `connection_check_type='ping'`,
    // a standby promotes only when no other standby still sees the primary
    `primary_visibility_consensus=true`,
    `promote_check_interval=1`,
    `service_start_command=${q(`${config.postgres.binDir}/pg_ctl -D ${p.dataDir} -l ${p.pgLog} -w start`)}`,
    `service_stop_command=${q(`${config.postgres.binDir}/pg_ctl -D ${p.dataDir} -m fast -w stop`)}`,
    `service_restart_command=${q(`${config.postgres.binDir}/pg_ctl -D ${p.dataDir} -l ${p.pgLog} -m fast -w restart`)}`,
  ];
  if (opts.hooks?.eventCommand) lines.push(`event_notification_command=${q(opts.hooks.eventCommand)}`);
  if (opts.hooks?.validationCommand) {
    lines.push(
      `failover_validation_command=${q(opts.hooks.validationCommand)}`,
      // a refused candidate: the election runs again after this long (repmgr's default 15 s)
      `election_rerun_interval=${ELECTION_RERUN_SECS}`,
    );
  }
  if (opts.hooks?.fenceCommand && config.repmgr.fenceAfterSecs > 0 && config.nodes.length > 1) {
    lines.push(
      `child_nodes_check_interval=1`,
      `child_nodes_connected_min_count=1`,
      `child_nodes_disconnect_timeout=${config.repmgr.fenceAfterSecs}`,
      `child_nodes_disconnect_command=${q(opts.hooks.fenceCommand)}`,
    );
  }
  return lines.join('\n') + '\n';
}
