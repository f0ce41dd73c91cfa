// Typed actions around PostgreSQL's own tools (initdb, pg_ctl) and SQL on the local node.
import { existsSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import { nodePaths } from '../config/paths.js';
import { CommandError, type Runner } from '../exec/runner.js';
import { ensureDir, isAlive, writeFileAtomic } from '../fsutil.js';
import { danglingPlaceholders, historyFileName, historyFileTimeline, RESERVED_TIMELINE_SETTING, reservedTimelineIn, withReservedTimeline } from '../roles/timeline.js';
import { PGHA_CONF, renderPassfile, renderPgHba, renderPgIdent, renderPostgresConf, renderSynchronousConf, SYNC_CONF, withInclude } from './render.js';
import { PARAMETERS_CONF, renderParametersConf, SETTINGS_SQL, settingInfoOf, type ParameterValue, type SettingInfo } from './parameters.js';

export interface NodeContext {
  config: ClusterConfig;
  node: NodeConfig;
  run: Runner;
  log(line: string): Promise<void> | void;
  /** The step's AbortSignal: its waits end when the step is cancelled (a worker stopping). */
  signal?: AbortSignal;
}

export const pgBin = (config: ClusterConfig, tool: string) => join(config.postgres.binDir, tool);

export function isInitialised(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

/** The running postmaster of a data directory, from postmaster.pid: pid and port, or undefined. */
export function postmasterStatus(dataDir: string): { pid: number; port: number } | undefined {
  try {
    const lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return isAlive(pid) ? { pid, port } : undefined;
  } catch {
    return undefined;
  }
}

/** The folders a node needs, owned by the postgres OS user (PostgreSQL refuses to run as root). */
export function ensureNodeDirs(ctx: NodeContext): void {
  const p = nodePaths(ctx.config, ctx.node);
  const owner = ctx.config.osUsers.postgres;
  ensureDir(ctx.config.postgres.dataDir, { owner, mode: 0o755 });
  ensureDir(p.stateDir, { owner, mode: 0o750 });
  ensureDir(p.socketDir, { owner, mode: 0o755 });
  ensureDir(ctx.config.repmgr.configDir, { mode: 0o755 });
}

/** The passfile repmgr, walreceiver and pg_basebackup read (the only place passwords live on disk). */
export function writeNodePassfile(ctx: NodeContext): void {
  const { repmgr } = ctx.config;
  writeFileAtomic(
    nodePaths(ctx.config, ctx.node).passfile,
    renderPassfile([
      { user: 'repmgr', password: repmgr.password },
      { user: 'repmgr_streaming', password: repmgr.streamingPassword },
    ]),
    { owner: ctx.config.osUsers.postgres, mode: 0o600 },
  );
}

export async function initdbIfNeeded(ctx: NodeContext): Promise<boolean> {
  const p = nodePaths(ctx.config, ctx.node);
  if (isInitialised(p.dataDir)) {
    await ctx.log(`data directory ${p.dataDir} is already initialised: initdb skipped`);
    return false;
  }
  if (existsSync(p.dataDir) && readdirSync(p.dataDir).length > 0) {
    throw new Error(`data directory ${p.dataDir} is not empty but has no PG_VERSION: move it aside or empty it, then retry`);
  }
  await ctx.run.run(
    pgBin(ctx.config, 'initdb'),
    ['-D', p.dataDir, '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', '--auth-local=peer', '--auth-host=scram-sha-256'],
    { user: ctx.config.osUsers.postgres, timeoutMs: 120_000 },
  );
  return true;
}

/**
 * Render pgha.conf, pg_hba.conf and pg_ident.conf whole and include pgha.conf from postgresql.conf.
 * Returns true when anything changed (a restart or reload is then needed).
 */
export function renderNodeFiles(ctx: NodeContext, opts: { replication: boolean }): boolean {
  const p = nodePaths(ctx.config, ctx.node);
  const owner = ctx.config.osUsers.postgres;
  const confPath = join(p.dataDir, 'postgresql.conf');
  const osUsers = [owner, 'root'];
  const changed = [
    writeFileAtomic(join(p.dataDir, PGHA_CONF), renderPostgresConf(ctx.config, ctx.node, opts), { owner, mode: 0o600 }),
    writeFileAtomic(join(p.dataDir, 'pg_hba.conf'), renderPgHba(ctx.config), { owner, mode: 0o600 }),
    writeFileAtomic(join(p.dataDir, 'pg_ident.conf'), renderPgIdent(osUsers), { owner, mode: 0o600 }),
    writeFileAtomic(confPath, withInclude(readFileSync(confPath, 'utf8')), { owner, mode: 0o600 }),
  ];
  // the parameters from the config at a first start; from then on only pgha config apply writes them
  // (a worker's config may be older than the last apply), and clones and rewinds copy them
  const params = join(p.dataDir, PARAMETERS_CONF);
  if (!existsSync(params)) changed.push(writeParametersConf(ctx, ctx.config.postgres.parameters));
  return changed.some(Boolean);
}

/**
 * Write pgha-parameters.conf (postgres.parameters) in the data directory; true when it changed. The
 * caller reloads or restarts PostgreSQL. Throws when the data directory is not initialised (retry later).
 */
export function writeParametersConf(ctx: NodeContext, params: Record<string, ParameterValue>): boolean {
  const p = nodePaths(ctx.config, ctx.node);
  if (!isInitialised(p.dataDir)) throw new Error(`${p.dataDir} is not an initialised data directory: ${PARAMETERS_CONF} not written`);
  return writeFileAtomic(join(p.dataDir, PARAMETERS_CONF), renderParametersConf(params), { owner: ctx.config.osUsers.postgres, mode: 0o600 });
}

/**
 * Write pgha-sync.conf (synchronous_standby_names) in the data directory; true when it changed. The
 * caller reloads a running PostgreSQL. Throws when the data directory does not exist (retry later).
 */
export function writeSynchronousConf(ctx: NodeContext, standbyNames: string): boolean {
  const p = nodePaths(ctx.config, ctx.node);
  // never create a data directory: a clone or initdb wants it empty
  if (!isInitialised(p.dataDir)) throw new Error(`${p.dataDir} is not an initialised data directory: ${SYNC_CONF} not written`);
  return writeFileAtomic(join(p.dataDir, SYNC_CONF), renderSynchronousConf(standbyNames), { owner: ctx.config.osUsers.postgres, mode: 0o600 });
}

/**
 * Remove postmaster.pid when the postmaster it names is dead but not yet reaped (a zombie: where PID 1
 * reaps slowly, as on these machines, a `kill -9`ed postmaster stays one for seconds) and no live
 * process works in the data directory (its backends have their cwd there). PostgreSQL itself takes a
 * zombie for a running postmaster and refuses to start ("lock file already exists"). Linux only.
 */
export async function removeStaleLockFile(ctx: NodeContext): Promise<void> {
  const p = nodePaths(ctx.config, ctx.node);
  const lock = join(p.dataDir, 'postmaster.pid');
  if (!existsSync(lock)) return;
  const pid = Number(readFileSync(lock, 'utf8').split('\n')[0]);
  if (!pid || isAlive(pid)) return;
  const dataDir = realpathSync(p.dataDir);
  const busy = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && isAlive(Number(d))).some((d) => {
    try {
      return realpathSync(`/proc/${d}/cwd`) === dataDir;
    } catch {
      return false;
    }
  });
  if (busy) return;
  rmSync(lock, { force: true });
  // its socket's lock file names the same dead pid, and PostgreSQL refuses it the same way
  for (const f of existsSync(p.socketDir) ? readdirSync(p.socketDir) : []) {
    if (!/^\.s\.PGSQL\.\d+\.lock$/.test(f)) continue;
    const owner = Number(readFileSync(join(p.socketDir, f), 'utf8').split('\n')[0]);
    if (owner === pid) {
      rmSync(join(p.socketDir, f), { force: true });
      rmSync(join(p.socketDir, f.replace(/\.lock$/, '')), { force: true });
    }
  }
  await ctx.log(`postmaster.pid named pid ${pid}, which is dead (not yet reaped) and left no backend: stale lock files removed`);
}

/** pg_ctl start; `port` other than the consumer port is passed on the command line (technical phase). */
export async function startPostgres(ctx: NodeContext, port: number): Promise<void> {
  const p = nodePaths(ctx.config, ctx.node);
  // the socket folder lives under /var/run, a tmpfs: a host's reboot or a recreated container empties
  // it, and PostgreSQL refuses to start without it ("could not create lock file")
  ensureNodeDirs(ctx);
  await removeStaleLockFile(ctx);
  await removeDanglingPlaceholders(ctx);
  const args = ['-D', p.dataDir, '-l', p.pgLog, '-w', '-t', '120'];
  if (port !== ctx.config.postgres.port) args.push('-o', `-p ${port}`);
  args.push('start');
  try {
    await ctx.run.run(pgBin(ctx.config, 'pg_ctl'), args, { user: ctx.config.osUsers.postgres, timeoutMs: 150_000 });
  } catch (err) {
    // pg_ctl only says "could not start server, examine the log": the log's last FATAL line says why
    if (err instanceof CommandError && !postmasterStatus(p.dataDir)) throw new Error(`${err.message.split('\n')[0]}; PostgreSQL exited: ${postmasterExitReason(ctx)}`);
    throw err;
  }
}

/**
 * Remove the placeholder history files of a promotion that did not happen (src/roles/timeline.ts,
 * danglingPlaceholders): with one as the newest history file, PostgreSQL would refuse to start as a
 * standby. Placeholders below a real history file stay (they keep their numbers taken).
 */
export async function removeDanglingPlaceholders(ctx: NodeContext): Promise<void> {
  const wal = join(nodePaths(ctx.config, ctx.node).dataDir, 'pg_wal');
  if (!existsSync(wal)) return;
  const files = new Map<number, string>();
  for (const f of readdirSync(wal)) {
    const t = historyFileTimeline(f);
    if (t !== null) files.set(t, readFileSync(join(wal, f), 'utf8'));
  }
  for (const t of danglingPlaceholders(files)) {
    const f = join(wal, historyFileName(t));
    rmSync(f, { force: true });
    await ctx.log(`removed ${f}: a placeholder of a promotion that did not happen (PostgreSQL would refuse it as its newest timeline)`);
  }
}

/** The timeline reservation on disk of a data directory (its postgresql.auto.conf), or null. */
export function reservedTimelineOnDisk(dataDir: string): number | null {
  try {
    return reservedTimelineIn(readFileSync(join(dataDir, 'postgresql.auto.conf'), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Keep a timeline reservation across what replaces postgresql.auto.conf (pg_rewind copies the source's,
 * a clone brings the primary's): written back when the file now holds less than `reserved`. PostgreSQL
 * need not reload: the probe reads the file through pg_file_settings.
 */
export async function keepReservedTimeline(ctx: NodeContext, reserved: number | null): Promise<void> {
  const dataDir = nodePaths(ctx.config, ctx.node).dataDir;
  const now = reservedTimelineOnDisk(dataDir);
  if (reserved === null || (now !== null && now >= reserved) || !isInitialised(dataDir)) return;
  if (postmasterStatus(dataDir)) {
    // running: through ALTER SYSTEM, which takes the file's lock (a concurrent detach's primary_conninfo stays)
    // the repmgr database, as the promotion's reservation: advisory locks are per database
    await withLocalSql(ctx, ctx.config.postgres.port, 'repmgr', (c) => raiseReservation(c, reserved));
  } else {
    const file = join(dataDir, 'postgresql.auto.conf');
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    writeFileAtomic(file, withReservedTimeline(text, reserved), { owner: ctx.config.osUsers.postgres, mode: 0o600 });
  }
  await ctx.log(`kept this node's timeline reservation ${reserved} in postgresql.auto.conf (it had ${now ?? 'none'})`);
}

/** Key of the advisory lock that makes a reservation's read-and-raise one step on a node. */
const RESERVATION_LOCK = 0x70676861; // "pgha"

/**
 * Raise a node's timeline reservation (src/roles/timeline.ts) to `timeline` on `c` (a connection to
 * the repmgr database): under an advisory
 * lock (this session's), read what postgresql.auto.conf holds and write only a higher number, so that
 * a reservation never goes down and two promotions reserving at once cannot both take one number on
 * a node. True when written; else the number already held (equal or higher).
 */
export async function raiseReservation(c: pg.Client, timeline: number): Promise<true | number> {
  // every caller is connected to the repmgr database (advisory locks are per database); a session
  // stuck holding the lock must not hang a promotion: lock_timeout bounds the wait (an error, retried)
  await c.query(`SET lock_timeout = '5s'`);
  await c.query('SELECT pg_advisory_lock($1)', [RESERVATION_LOCK]);
  try {
    const held = (await c.query(`SELECT max(setting::int) AS t FROM pg_file_settings WHERE name = '${RESERVED_TIMELINE_SETTING}' AND setting ~ '^[0-9]+$'`)).rows[0].t as number | null;
    if (held !== null && held >= timeline) return held;
    // ALTER SYSTEM takes no parameters (the value is an integer computed here), and knows a custom
    // setting only once this session has it (PostgreSQL 15: "unrecognized configuration parameter")
    await c.query(`SET ${RESERVED_TIMELINE_SETTING} = '${Number(timeline)}'`);
    await c.query(`ALTER SYSTEM SET ${RESERVED_TIMELINE_SETTING} = '${Number(timeline)}'`);
    return true;
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [RESERVATION_LOCK]).catch(() => {});
  }
}

/** pg_ctl stop: fast (clean, the default) or immediate (fencing: every backend ends at once; crash recovery on the next start). */
export async function stopPostgres(ctx: NodeContext, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  const p = nodePaths(ctx.config, ctx.node);
  if (!postmasterStatus(p.dataDir)) {
    await ctx.log('PostgreSQL is not running: nothing to stop');
    return;
  }
  await ctx.run.run(pgBin(ctx.config, 'pg_ctl'), ['-D', p.dataDir, '-m', mode, '-w', '-t', '120', 'stop'], {
    user: ctx.config.osUsers.postgres,
    timeoutMs: 150_000,
  });
}

/** Make sure PostgreSQL runs on `port`, restarting it when it runs elsewhere or `restart` is asked. */
export async function ensureRunningOn(ctx: NodeContext, port: number, restart = false): Promise<'started' | 'restarted' | 'unchanged'> {
  const p = nodePaths(ctx.config, ctx.node);
  const running = postmasterStatus(p.dataDir);
  if (running && running.port === port && !restart) {
    await ctx.log(`PostgreSQL already runs on port ${port} (pid ${running.pid})`);
    return 'unchanged';
  }
  if (running) await stopPostgres(ctx);
  await startPostgres(ctx, port);
  return running ? 'restarted' : 'started';
}

/** FATALs of one client's connection (refused while starting or recovering, ended, not allowed): never why the server stopped. */
const CONNECTION_FATAL = /FATAL:\s+(the database system is (starting up|in recovery mode|shutting down|not yet accepting connections|not accepting connections)|terminating connection|canceling|password authentication failed|no pg_hba\.conf entry|role ".*" does not exist|database ".*" does not exist)/;

/**
 * Why the server stopped, from a PostgreSQL log's text (pure): its last FATAL or PANIC line that is not
 * a client connection's own (a connection refused during recovery logs "FATAL: the database system is
 * in recovery mode" after the startup process's real reason); else the last FATAL at all; null for none.
 */
export function lastFatalLine(log: string): string | null {
  const lines = log.split('\n').filter((l) => /\b(FATAL|PANIC):/.test(l));
  const server = lines.filter((l) => !CONNECTION_FATAL.test(l));
  const pick = server.length ? server : lines;
  return pick.length ? pick[pick.length - 1].trim() : null;
}

/** Why this node's postmaster is gone, from the end of its log (the last 64 KiB): its last FATAL or PANIC line. */
export function postmasterExitReason(ctx: NodeContext): string {
  const file = nodePaths(ctx.config, ctx.node).pgLog;
  try {
    const text = readFileSync(file, 'utf8');
    return lastFatalLine(text.slice(-65_536)) ?? `no FATAL line in ${file}`;
  } catch {
    return `${file} cannot be read`;
  }
}

/** SQL on the local node as the postgres role, over its unix socket (peer auth through pg_ident). */
export async function withLocalSql<T>(ctx: NodeContext, port: number, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: nodePaths(ctx.config, ctx.node).socketDir, port, user: 'postgres', database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A connected pg client (its error events swallowed: a dropped peer must not crash the worker); throws when it cannot connect, leaving nothing open. */
/** Close a client without waiting for the server: its socket is dropped (a frozen or cut-off node answers neither a query nor the goodbye). */
export function dropClient(c: pg.Client | undefined): void {
  (c as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream?.destroy();
  c?.end().catch(() => {});
}

export async function openClient(params: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(params);
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

/** A TCP connection to any node as a cluster role; the password comes from this process's config. */
export async function connectAs(
  config: ClusterConfig,
  node: NodeConfig,
  opts: { user: 'repmgr' | 'postgres'; database?: string; port?: number; timeoutMs?: number; queryTimeoutMs?: number },
): Promise<pg.Client> {
  const password = opts.user === 'repmgr' ? config.repmgr.password : config.postgres.rootPassword;
  return openClient({
    host: node.host,
    port: opts.port ?? config.postgres.port,
    user: opts.user,
    password,
    database: opts.database ?? (opts.user === 'repmgr' ? 'repmgr' : 'postgres'),
    connectionTimeoutMillis: opts.timeoutMs ?? 3000,
    ...(opts.queryTimeoutMs ? { query_timeout: opts.queryTimeoutMs } : {}),
  });
}

/**
 * A node's pg_settings (PostgreSQL's own catalogue of its parameters: type, unit, bounds, context,
 * value now, pending restart), read as the repmgr role. Throws when the node does not answer within
 * a few seconds (a retry may help).
 */
export async function readSettings(config: ClusterConfig, node: NodeConfig): Promise<Map<string, SettingInfo>> {
  const client = await connectAs(config, node, { user: 'repmgr', timeoutMs: 2000, queryTimeoutMs: 5000 });
  try {
    const r = await client.query(SETTINGS_SQL);
    return new Map(r.rows.map((row) => [row.name as string, settingInfoOf(row)]));
  } finally {
    dropClient(client);
  }
}

/** pg_settings of the first node that answers (PostgreSQL's catalogue for checking parameters), with its name; null when none does. */
export async function readCatalogue(config: ClusterConfig): Promise<{ node: string; settings: Map<string, SettingInfo> } | null> {
  const answers = await Promise.all(config.nodes.map((n) => readSettings(config, n).then((settings) => ({ node: n.name, settings })).catch(() => null)));
  return answers.find((a) => a !== null) ?? null;
}
