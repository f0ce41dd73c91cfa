// The quorum keeper in each node worker: every second it reads, on its own PostgreSQL, whether it is
// in recovery, its synchronous_standby_names and which standbys stream from it, asks
// decideSynchronous (src/roles/quorum.ts) and, when told, rewrites pgha-sync.conf and reloads.
// It never creates or starts anything: a node that is down or has no data directory is left alone.
import pg from 'pg';
import type { Logger } from 'winston';
import type { ClusterConfig } from '../src/config/schema.js';
import { findNode, nodePaths } from '../src/config/paths.js';
import { secretsOf } from '../src/config/load.js';
import { Runner } from '../src/exec/runner.js';
import { writeSynchronousConf, type NodeContext } from '../src/postgres/actions.js';
import { decideSynchronous, quorumStandbyNames } from '../src/roles/quorum.js';

export const SYNC_CHECK_EVERY_MS = 1000;

export interface SyncKeeper {
  stop(): void;
}

/**
 * Keep synchronous_standby_names of node `me` as replication.synchronous asks. Before a primary first
 * requires the quorum, repmgr's own role is set to synchronous_commit = local: repmgr writes its
 * metadata (standby promote, follow, register) on a node whose standbys may not stream yet, and
 * those writes must not wait for them (they are not the clients' data).
 */
export function startSyncKeeper(config: ClusterConfig, me: string, logger: Logger): SyncKeeper {
  const node = findNode(config, me);
  const names = config.nodes.map((n) => n.name);
  const mode = config.replication.synchronous;
  const nc: NodeContext = { config, node, run: new Runner(secretsOf(config), (l) => logger.info(l)), log: (l) => void logger.info(l) };
  let client: pg.Client | undefined;
  let busy = false;
  let lastReason = '';
  const say = (reason: string) => {
    if (reason !== lastReason) logger.info(`quorum keeper: ${reason}`);
    lastReason = reason;
  };

  const check = async () => {
    if (!client) {
      const c = new pg.Client({ host: nodePaths(config, node).socketDir, port: config.postgres.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
      c.on('error', () => {});
      await c.connect();
      client = c;
    }
    const r = await client.query(`
      SELECT pg_is_in_recovery() AS recovery,
             current_setting('synchronous_standby_names') AS current,
             coalesce((SELECT array_agg(application_name::text) FROM pg_stat_replication WHERE state = 'streaming'), '{}') AS streaming,
             EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'repmgr') AS has_repmgr,
             EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
                      WHERE r.rolname = 'repmgr' AND s.setdatabase = 0 AND 'synchronous_commit=local' = ANY (s.setconfig)) AS repmgr_local`);
    const row = r.rows[0];
    const decision = decideSynchronous(mode, names, { writable: !row.recovery, current: row.current, streaming: row.streaming });
    say(decision.reason);
    if (mode === 'quorum' && !row.recovery && row.has_repmgr && !row.repmgr_local) {
      // SET LOCAL: this commit itself never waits for standbys, whatever the setting is now
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit = local');
      await client.query(`ALTER ROLE repmgr SET synchronous_commit = 'local'`);
      await client.query('COMMIT');
      logger.info('quorum keeper: repmgr metadata writes use synchronous_commit = local');
    }
    if (decision.action !== 'set') return;
    writeSynchronousConf(nc, decision.value);
    await client.query('SELECT pg_reload_conf()');
    logger.info(`quorum keeper: synchronous_standby_names = '${decision.value}' (${decision.reason})`);
  };

  const tick = () => {
    if (busy) return;
    busy = true;
    check()
      .catch((err: Error) => {
        // PostgreSQL down, starting or being replaced: nothing to keep now
        say(`${me}'s PostgreSQL does not answer (${err.message}): waiting`);
        const c = client;
        client = undefined;
        c?.end().catch(() => {});
      })
      .finally(() => (busy = false));
  };
  const timer = setInterval(tick, SYNC_CHECK_EVERY_MS);
  tick();
  logger.info(`quorum keeper on: replication.synchronous ${mode}${mode === 'quorum' ? ` (${quorumStandbyNames(mode, names) || 'a single node: asynchronous'})` : ''}`);
  return {
    stop() {
      clearInterval(timer);
      client?.end().catch(() => {});
    },
  };
}
