// Pure renderers for what pgha adds to PostgreSQL's configuration.
import { isIP } from 'node:net';
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import { nodePaths } from '../config/paths.js';
import { PARAMETERS_CONF } from './parameters.js';

/** Name of the file pgha owns inside the data directory; postgresql.conf includes it. */
export const PGHA_CONF = 'pgha.conf';
export const INCLUDE_LINE = `include_if_exists = '${PGHA_CONF}'`;
/**
 * synchronous_standby_names lives in a file of its own, written only by the node worker's quorum
 * keeper (workers/sync-keeper.ts): steps render pgha.conf whole without knowing whether the quorum
 * is on yet. It sits in the data directory, so a clone or a rewind takes it from its source.
 */
export const SYNC_CONF = 'pgha-sync.conf';

/** pgha-sync.conf with this synchronous_standby_names ('' : asynchronous). */
export function renderSynchronousConf(standbyNames: string): string {
  return [
    '# Managed by the pgha node worker (replication.synchronous): edits here are lost.',
    `synchronous_standby_names = '${standbyNames.replace(/'/g, "''")}'`,
  ].join('\n') + '\n';
}

/**
 * pgha.conf: this node's addresses plus the replication/backup settings. The port is always the
 * consumer port; the technical phase overrides it on pg_ctl's command line (-p).
 * `replication: false` is the minimal file used to boot a fresh initdb on the technical port.
 */
export function renderPostgresConf(config: ClusterConfig, node: NodeConfig, opts: { replication: boolean }): string {
  const p = nodePaths(config, node);
  const lines = [
    '# Managed by pgha: rendered whole on every change; edits here are lost.',
    `listen_addresses = '${node.host}'`,
    `port = ${config.postgres.port}`,
    `unix_socket_directories = '${p.socketDir}'`,
    `password_encryption = 'scram-sha-256'`,
  ];
  if (opts.replication) {
    lines.push(
      '# streaming replication (repmgr) and backups (barman)',
      `wal_level = 'replica'`,
      // pg_rewind needs it to bring a failed primary back as a standby
      `wal_log_hints = on`,
      `max_wal_senders = ${config.postgres.maxWalSenders}`,
      `max_replication_slots = ${config.postgres.maxReplicationSlots}`,
      `wal_keep_size = '256MB'`,
      `hot_standby = on`,
      `shared_preload_libraries = 'repmgr'`,
      // WAL reaches barman by streaming (pg_receivewal through a replication slot); archive_mode is on
      // so that a later archive_command needs a reload, not a restart
      `archive_mode = on`,
      `archive_command = '/bin/true'`,
    );
  }
  // the DBA's parameters (postgres.parameters, pgha config apply), after pgha's own lines; none of
  // those can be overridden there (the config refuses them), shared_preload_libraries aside, which
  // must keep repmgr
  lines.push(`include_if_exists = '${PARAMETERS_CONF}'`);
  // last: the quorum keeper's own file (absent on a first start: asynchronous until standbys stream)
  if (opts.replication) lines.push(`include_if_exists = '${SYNC_CONF}'`);
  return lines.join('\n') + '\n';
}

/** An address for pg_hba: an IP becomes a /32 (or /128), a CIDR or host name stays as it is. */
export function hbaAddress(host: string): string {
  if (host.includes('/')) return host;
  const v = isIP(host);
  if (v === 4) return `${host}/32`;
  if (v === 6) return `${host}/128`;
  return host;
}

/** pg_hba.conf, rendered whole: local peer for the postgres OS user, scram for everything else. */
export function renderPgHba(config: ClusterConfig): string {
  const peers = [...new Set([...config.nodes.map((n) => n.host), config.barman.host, ...config.postgres.allowedNetworks].map(hbaAddress))];
  const lines = [
    '# Managed by pgha: rendered whole on every change; edits here are lost.',
    '# TYPE  DATABASE     USER              ADDRESS          METHOD',
    // the node worker (root, or postgres in a container) reaches the local server as postgres via pg_ident
    'local   all          postgres                           peer map=pgha',
    'local   all          all                                scram-sha-256',
    'local   replication  all                                scram-sha-256',
  ];
  for (const addr of peers) {
    lines.push(
      `host    all          all               ${addr.padEnd(16)} scram-sha-256`,
      `host    replication  repmgr_streaming  ${addr.padEnd(16)} scram-sha-256`,
      `host    replication  barman_streaming  ${addr.padEnd(16)} scram-sha-256`,
    );
  }
  return lines.join('\n') + '\n';
}

/** postgresql.conf with the include of pgha.conf appended once (idempotent). */
export function withInclude(postgresqlConf: string): string {
  if (postgresqlConf.split('\n').some((l) => l.trim() === INCLUDE_LINE)) return postgresqlConf;
  return postgresqlConf.replace(/\n*$/, '\n') + `\n# pgha settings (must stay last)\n${INCLUDE_LINE}\n`;
}

/** ~/.pgpass lines; `*` for host/port/database so replication connections match too. */
export function renderPassfile(entries: { user: string; password: string }[]): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  return entries.map((e) => `*:*:*:${esc(e.user)}:${esc(e.password)}`).join('\n') + '\n';
}

/** pg_ident.conf: the OS users that may connect locally as the postgres role. */
export function renderPgIdent(osUsers: string[]): string {
  return ['# Managed by pgha: rendered whole on every change; edits here are lost.', ...[...new Set(osUsers)].map((u) => `pgha  ${u}  postgres`)].join('\n') + '\n';
}
