// What a node does to take a role: clone, start as standby, follow, rejoin (pg_rewind), register.
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import type { NodeConfig } from '../config/schema.js';
import { findNode, nodePaths, repmgrNodeId } from '../config/paths.js';
import { connectAs, ensureRunningOn, isInitialised, keepReservedTimeline, pgBin, reservedTimelineOnDisk, postmasterStatus, removeStaleLockFile, renderNodeFiles, stopPostgres, withLocalSql, type NodeContext } from '../postgres/actions.js';
import { CLEAN_STATES, readControlData } from '../postgres/controldata.js';
import { repmgr } from '../repmgr/actions.js';
import { ensureDir, writeFileAtomic } from '../fsutil.js';
import { KEEP_ON_REWIND, repmgrConninfo } from '../repmgr/render.js';
import { probe } from '../probe.js';
import { pollUntil } from '../wait.js';


/** Move a data directory aside (never delete it): the operator decides when it can go. */
export async function moveAside(ctx: NodeContext, why: string): Promise<string | undefined> {
  const p = nodePaths(ctx.config, ctx.node);
  if (!existsSync(p.dataDir) || readdirSync(p.dataDir).length === 0) return undefined;
  const aside = `${p.dataDir}.aside-${new Date().toISOString().replace(/[:.]/g, '')}`;
  renameSync(p.dataDir, aside);
  await ctx.log(`${p.dataDir} moved aside to ${aside} (${why}); delete it once you do not need it`);
  return aside;
}

/**
 * Where a flow records the data directory it moved aside (restore, reinit): its last step removes
 * that folder once the flow ended well (forget-old-data); until then it is the way back.
 */
export const asideRecordFile = (ctx: NodeContext, flowId: string) => join(nodePaths(ctx.config, ctx.node).stateDir, `aside-${flowId}`);

/** Marker of a clone under way: a data directory found with it is an interrupted clone, never a usable one. */
export const clonePartialMarker = (ctx: NodeContext) => join(nodePaths(ctx.config, ctx.node).stateDir, 'clone.partial');

/**
 * `repmgr standby clone --fast-checkpoint` from `primary` into an empty data directory. A worker
 * killed during it leaves clone.partial behind: the next run of the step knows the folder is half a
 * clone (resumeReclone moves it aside and clones again).
 */
export async function cloneFrom(ctx: NodeContext, primary: NodeConfig): Promise<void> {
  const partial = clonePartialMarker(ctx);
  // a timeline reservation this node holds (src/roles/timeline.ts) outlives its data directory
  const reserved = rememberReservation(ctx);
  writeFileSync(partial, `clone from ${primary.name} started at ${new Date().toISOString()}\n`);
  await repmgr(ctx, ['-h', primary.host, '-p', String(ctx.config.postgres.port), '-U', 'repmgr', '-d', 'repmgr', 'standby', 'clone', '--fast-checkpoint']);
  await keepReservedTimeline(ctx, reserved);
  writeFileSync(join(nodePaths(ctx.config, ctx.node).stateDir, 'clone.done'), `cloned from ${primary.name} at ${new Date().toISOString()}\n`);
  rmSync(partial, { force: true });
}

/**
 * This node's timeline reservation (src/roles/timeline.ts), remembered in its state folder before
 * something replaces postgresql.auto.conf (pg_rewind copies the source's, a clone the primary's): the
 * highest of the data directory's, the folders moved aside from it and the remembered one. A worker
 * killed between the replacement and keepReservedTimeline finds it again on the step's re-run.
 */
function rememberReservation(ctx: NodeContext): number | null {
  const p = nodePaths(ctx.config, ctx.node);
  const parent = dirname(p.dataDir);
  const file = join(p.stateDir, 'reserved-timeline');
  const dirs = [p.dataDir, ...(existsSync(parent) ? readdirSync(parent).filter((f) => f.startsWith(`${basename(p.dataDir)}.aside-`)).map((f) => join(parent, f)) : [])];
  const remembered = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || null : null;
  const found = [...dirs.map(reservedTimelineOnDisk), remembered].filter((t): t is number => t !== null);
  if (!found.length) return null;
  const top = Math.max(...found);
  if (top !== remembered) writeFileAtomic(file, `${top}\n`);
  return top;
}

/**
 * A node that ran before has no usable data directory: its re-clone was interrupted (worker killed
 * after the old folder went aside, or during the clone). Clone again from the primary of the moment,
 * start as its standby, register. Never a first start: that would initdb an empty primary beside the
 * real one. Throws (retryable) while no single primary answers; the folders moved aside stay.
 */
export async function resumeReclone(ctx: NodeContext, primaryName: string | null): Promise<string> {
  if (!primaryName) {
    throw new Error(`${ctx.node.name} has no usable data directory (an interrupted re-clone) and no single primary answers to clone from: the step tries again`);
  }
  const primary = findNode(ctx.config, primaryName);
  await recloneFrom(ctx, primary, 'an interrupted clone');
  return primary.name;
}

/** The data directory aside (kept), a fresh clone of `primary`, started as its standby, streaming, registered. */
async function recloneFrom(ctx: NodeContext, primary: NodeConfig, why: string): Promise<void> {
  await moveAside(ctx, why);
  await cloneFrom(ctx, primary);
  await startAsStandby(ctx);
  await waitStreaming(ctx, primary.name);
  await repmgr(ctx, ['standby', 'register', '--force']);
}

/** Where this standby streams from now (a node name), or null while it does not stream. */
export async function streamingFrom(ctx: NodeContext): Promise<{ recovery: boolean; upstream: string | null }> {
  return withLocalSql(ctx, ctx.config.postgres.port, 'postgres', async (sql) => {
    const r = await sql.query(`SELECT pg_is_in_recovery() AS recovery, (SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming') AS host`);
    const host = r.rows[0].host as string | null;
    return { recovery: r.rows[0].recovery, upstream: host ? (ctx.config.nodes.find((n) => n.host === host)?.name ?? host) : null };
  });
}

export async function waitStreaming(ctx: NodeContext, from: string | null, timeoutMs = 30_000): Promise<string> {
  let last = { recovery: true, upstream: null as string | null };
  // two reads in a row: a standby that cannot follow (its WAL forked off before the primary's
  // timeline) shows a walreceiver "streaming" for a few ms every wal_retrieve_retry_interval
  let seen: string | null = null;
  return pollUntil(
    `${ctx.node.name} streams from ${from ?? 'any node'}`,
    async () => {
      last = await streamingFrom(ctx);
      if (!last.recovery) throw new UnrecoverableError(`${ctx.node.name} left recovery: it must not run as a primary here; stop it and check pgha status`);
      const ok = last.upstream && (from === null || last.upstream === from) ? last.upstream : null;
      const twice = ok !== null && ok === seen;
      seen = ok;
      return twice ? ok : undefined;
    },
    {
      timeoutMs,
      everyMs: 250,
      signal: ctx.signal,
      onTimeout: () => new Error(`${ctx.node.name} does not stream from ${from ?? 'any node'} after ${timeoutMs / 1000} s (streams from: ${last.upstream ?? 'nothing'}); see ${nodePaths(ctx.config, ctx.node).pgLog}`),
    },
  );
}

/** waitStreaming, answering false when it runs out instead of throwing (a node that left recovery still throws). */
async function streamsIn(ctx: NodeContext, from: string, onTimeout: (err: Error) => void = () => {}): Promise<boolean> {
  try {
    await waitStreaming(ctx, from);
    return true;
  } catch (err) {
    if (err instanceof UnrecoverableError) throw err;
    onTimeout(err as Error);
    return false;
  }
}

/** Start as a standby (standby.signal must be there: without it PostgreSQL would come up writable). */
export async function startAsStandby(ctx: NodeContext): Promise<void> {
  const p = nodePaths(ctx.config, ctx.node);
  if (!existsSync(join(p.dataDir, 'standby.signal'))) {
    throw new UnrecoverableError(`${p.dataDir} has no standby.signal, so it would start as a primary; pgha will not start it as a standby this way`);
  }
  const changed = renderNodeFiles(ctx, { replication: true });
  await ensureRunningOn(ctx, ctx.config.postgres.port, changed);
}

/**
 * Make a running standby stream from `primary`: `repmgr standby follow` when it streams from
 * elsewhere or from nothing; when it cannot follow (it received WAL past the point where the new
 * primary's timeline forked off), rewind it (rejoin: pg_rewind, a re-clone only when that fails).
 * Returns only once it streams from `primary`; throws otherwise.
 */
export async function ensureFollows(ctx: NodeContext, primary: NodeConfig): Promise<'already' | 'followed' | 'rewound' | 'recloned'> {
  const now = await streamingFrom(ctx);
  if (!now.recovery) throw new UnrecoverableError(`${ctx.node.name} is not in recovery; it cannot follow ${primary.name}`);
  if (now.upstream === primary.name) {
    await ctx.log(`${ctx.node.name} already streams from ${primary.name}`);
    // a re-run after a crash between the rewind/clone and keeping the reservation finds it here
    await keepReservedTimeline(ctx, rememberReservation(ctx));
    return 'already';
  }
  await ctx.log(`${ctx.node.name} streams from ${now.upstream ?? 'nothing'}: follow ${primary.name}`);
  const res = await repmgr(ctx, ['standby', 'follow', `--upstream-node-id=${repmgrNodeId(ctx.config, primary.name)}`, '--wait'], { allowFail: true, timeoutMs: 120_000 });
  const followed = res.exitCode === 0 && (await streamsIn(ctx, primary.name));
  if (followed) return 'followed';
  await ctx.log(`${ctx.node.name} could not follow ${primary.name} (repmgr standby follow exit ${res.exitCode}; a timeline that forked before what it received?): rewinding it`);
  return rejoin(ctx, primary.name).then((how) => (how === 'already' ? 'followed' : how));
}

/**
 * A crashed data directory goes through crash recovery in single-user mode (no connections at all),
 * so pg_rewind and repmgr see a clean shutdown. The node never accepts a client while doing it.
 */
export async function ensureCleanShutdown(ctx: NodeContext): Promise<void> {
  const cd = await readControlData(ctx);
  if (CLEAN_STATES.includes(cd.state)) return;
  const p = nodePaths(ctx.config, ctx.node);
  await ctx.log(`data directory state is "${cd.state}": crash recovery in single-user mode before rewinding`);
  await removeStaleLockFile(ctx);
  await ctx.run.run(pgBin(ctx.config, 'postgres'), ['--single', '-D', p.dataDir, '-c', "listen_addresses=", '-c', 'archive_mode=off', 'postgres'], {
    user: ctx.config.osUsers.postgres,
    timeoutMs: 300_000,
    maxLogLines: 10,
  });
}

/**
 * CHECKPOINT on the rewind's source. pg_rewind takes the source's timeline from its last checkpoint:
 * right after a promotion, before the end-of-recovery checkpoint, it sees the old timeline, says no
 * rewind is needed and leaves the target's diverged WAL in place (the node then cannot follow:
 * "new timeline forked off current database system timeline before current recovery point"). The
 * PostgreSQL hackers' discussion and tests of pg_rewind issue a checkpoint after promotion for this.
 * A source that does not answer is left to the rejoin to report.
 */
async function checkpointOn(ctx: NodeContext, source: NodeConfig): Promise<void> {
  try {
    const c = await connectAs(ctx.config, source, { user: 'repmgr', timeoutMs: 3000, queryTimeoutMs: 60_000 });
    try {
      await c.query('CHECKPOINT');
    } finally {
      await c.end().catch(() => {});
    }
    await ctx.log(`CHECKPOINT on ${source.name} (pg_rewind reads its timeline from the last checkpoint)`);
  } catch (err) {
    await ctx.log(`CHECKPOINT on ${source.name} failed (${(err as Error).message}); the rejoin goes on`);
  }
}

/**
 * The old primary comes back as a standby of `primary`: pg_rewind through `repmgr node rejoin`;
 * a fresh clone only when the rewind fails, and the log says why.
 */
export async function rejoin(ctx: NodeContext, primaryName: string): Promise<'already' | 'rewound' | 'recloned'> {
  const primary = findNode(ctx.config, primaryName);
  const p = nodePaths(ctx.config, ctx.node);
  if (postmasterStatus(p.dataDir)) {
    const now = await streamingFrom(ctx);
    if (now.recovery && now.upstream === primary.name) {
      await ctx.log(`${ctx.node.name} already streams from ${primary.name}`);
      // a re-run after a crash between the rewind and keeping the reservation finds it here
      await keepReservedTimeline(ctx, rememberReservation(ctx));
      return 'already';
    }
    await stopPostgres(ctx);
  }
  await ensureCleanShutdown(ctx);
  ensureDir(join(p.stateDir, 'config-archive'), { owner: ctx.config.osUsers.postgres, mode: 0o700 });
  // pg_rewind copies the source's postgresql.auto.conf: this node's timeline reservation is written back after
  const reserved = rememberReservation(ctx);
  await checkpointOn(ctx, primary);
  // --no-wait: whether it streams is checked here, in 30 s, not by repmgr's 60 s wait (node_rejoin_timeout)
  const res = await repmgr(
    ctx,
    ['node', 'rejoin', '-d', repmgrConninfo(ctx.config, primary), '--force-rewind', `--config-files=${KEEP_ON_REWIND.join(',')}`, '--config-archive-dir', join(p.stateDir, 'config-archive'), '--no-wait', '--verbose'],
    { allowFail: true, maxLogLines: 200 },
  );
  let why = `pg_rewind through repmgr node rejoin failed (exit ${res.exitCode})`;
  if (res.exitCode === 0 && isInitialised(p.dataDir) && existsSync(join(p.dataDir, 'standby.signal'))) {
    await keepReservedTimeline(ctx, reserved);
    renderNodeFiles(ctx, { replication: true });
    if (!postmasterStatus(p.dataDir)) await ensureRunningOn(ctx, ctx.config.postgres.port);
    if (await streamsIn(ctx, primary.name, (err) => (why = `repmgr node rejoin succeeded but ${err.message}`))) {
      await ctx.log(`${ctx.node.name} rejoined as a standby of ${primary.name} with pg_rewind`);
      return 'rewound';
    }
  }
  await ctx.log(`${why}: re-cloning from ${primary.name} instead`);
  // the old data directory goes aside only once the clone source answers
  await probe(ctx.config, primary).catch((err: Error) => {
    throw new Error(`${primary.name} does not answer (${err.message}): ${p.dataDir} is left as it is; the step tries again`);
  });
  if (postmasterStatus(p.dataDir)) await stopPostgres(ctx);
  await recloneFrom(ctx, primary, why);
  return 'recloned';
}

/** Register the node in repmgr as what it runs as now (primary or standby); --force updates a stale record. */
export async function registerAsRunning(ctx: NodeContext): Promise<'primary' | 'standby'> {
  const { recovery } = await streamingFrom(ctx);
  const role = recovery ? 'standby' : 'primary';
  await repmgr(ctx, [role, 'register', '--force']);
  return role;
}

