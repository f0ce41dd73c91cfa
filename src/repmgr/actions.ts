// Typed actions around repmgr and repmgrd.
import { nodePaths } from '../config/paths.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/schema.js';
import { isAlive, readPidFile, writeFileAtomic } from '../fsutil.js';
import type { CommandResult, RunOptions } from '../exec/runner.js';
import { withLocalSql, type NodeContext } from '../postgres/actions.js';
import { renderRepmgrConf, type RepmgrHooks } from './render.js';
import { cliCommandLine, shellQuote } from '../cli-entry.js';
import { socketsOfPid } from './unstick.js';
import { pollUntil } from '../wait.js';

/**
 * repmgr events the control worker acts on (jobs/repmgr-event.ts: a promotion starts its follow-up
 * flow): the hook records these at once, through the CLI. Every other event is a record: the hook
 * writes it to the node's spool folder for the node worker (src/events.ts, drainEventSpool).
 */
export const PROMOTION_EVENTS = ['repmgrd_failover_promote'];

/**
 * repmgr reads a command setting into, and fills its placeholders into, a MAXPGPATH (1,024 byte)
 * buffer, and cuts what does not fit without a word (repmgr's _create_event): a cut event command is
 * a shell syntax error and every event is lost, a cut validation command a refused promotion.
 */
export const REPMGR_COMMAND_MAX = 1023;

/** The hooks unchanged, or an Error naming the setting to shorten when one could not fit repmgr's buffer once filled in (each %x counted as 40 characters). */
function fitRepmgrBuffer(ctx: NodeContext, hooks: RepmgrHooks): RepmgrHooks {
  for (const [name, command] of Object.entries(hooks)) {
    const filled = (command ?? '').replace(/%[a-z]/g, 'x'.repeat(40)).length;
    if (filled > REPMGR_COMMAND_MAX) {
      throw new Error(
        `repmgr's ${name} for ${ctx.node.name} is ${filled} characters once repmgr fills in its placeholders, and repmgr cuts a command at ${REPMGR_COMMAND_MAX}: ` +
          `shorten stateDir (${ctx.config.stateDir}), postgres.dataDir (${ctx.config.postgres.dataDir}) or the node names and hosts`,
      );
    }
  }
  return hooks;
}

/** repmgr's hooks: events go to the control queue through the CLI; the promotion rule and the fence backstop read the cluster through it too. Throws an Error (no retry helps) when a command would not fit repmgr's buffer (REPMGR_COMMAND_MAX). */
export function repmgrHooks(ctx: NodeContext): RepmgrHooks {
  return fitRepmgrBuffer(ctx, buildRepmgrHooks(ctx));
}

function buildRepmgrHooks(ctx: NodeContext): RepmgrHooks {
  const p = nodePaths(ctx.config, ctx.node);
  // how the hooks (run as postgres, without pgha.yaml) reach every node
  const cluster = ['--node', ctx.node.name, '--nodes', ctx.config.nodes.map((n) => `${n.name}=${n.host}`).join(','), '--port', String(ctx.config.postgres.port), '--passfile', p.passfile];
  return {
    // the events the control worker acts on go to Redis at once through the CLI, in the background
    // (repmgrd waits for this command); every other one is a line in a spool file for the node worker
    // (drainEventSpool): a Node process per event cost about 0.4 s of CPU, ten times in a bootstrap.
    // repmgr replaces %n %e %s %t anywhere in the line, so no other % may appear; %t holds a space.
    eventCommand:
      `case %e in ${PROMOTION_EVENTS.join('|')}) ` +
      `${cliCommandLine(['event', '--redis-file', p.redisFile, '--cluster', ctx.config.cluster, '--node-id', '%n', '--event', '%e', '--success', '%s', '--at'])} '%t' >/dev/null 2>&1 & ;; ` +
      `*) f=$(mktemp ${shellQuote(join(p.eventSpool, 'event.XXXXXXXX'))}) && echo %n %e %s '%t' >"$f" && mv "$f" "$f.event" ;; esac`,
    // in the background too: it watches (src/repmgr/backstop.ts) until the node has a standby again,
    // is no longer writable, or is fenced
    fenceCommand: `${cliCommandLine([
      'fence-backstop',
      ...cluster,
      '--data-dir',
      p.dataDir,
      '--pg-ctl',
      `${ctx.config.postgres.binDir}/pg_ctl`,
      '--lock',
      join(p.stateDir, 'fence-backstop.lock'),
    ])} >>${shellQuote(join(p.stateDir, 'fence-backstop.log'))} 2>&1 &`,
    // the promotion rule (src/roles/promotion.ts) before every automatic promotion
    validationCommand: cliCommandLine(['validate-promotion', ...cluster, '--redis-file', p.redisFile, '--cluster', ctx.config.cluster]),
  };
}

export function writeRepmgrConf(ctx: NodeContext): boolean {
  return writeFileAtomic(nodePaths(ctx.config, ctx.node).repmgrConf, renderRepmgrConf(ctx.config, ctx.node, { hooks: repmgrHooks(ctx) }), {
    owner: ctx.config.osUsers.postgres,
    mode: 0o640,
  });
}

/** repmgr as the postgres OS user, with our passfile. */
export function repmgr(ctx: NodeContext, args: string[], opts: RunOptions & { conf?: string } = {}): Promise<CommandResult> {
  const p = nodePaths(ctx.config, ctx.node);
  return ctx.run.run('repmgr', ['-f', opts.conf ?? p.repmgrConf, ...args], {
    user: ctx.config.osUsers.postgres,
    env: { PGPASSFILE: p.passfile, PGCONNECT_TIMEOUT: '5' },
    timeoutMs: 600_000,
    ...opts,
  });
}

/**
 * The pid of node `node`'s repmgrd, or undefined. The pid file's process must be alive and be repmgrd
 * run with this node's config: after a kill -9 the file stays, and its pid is soon another process's
 * (pid_max is 32768 on many machines), which must never be taken for repmgrd (nor killed, frozen or
 * have its connections destroyed as repmgrd's). Where /proc cannot be read, alive is enough.
 */
export function repmgrdPidOf(config: ClusterConfig, node: NodeConfig): number | undefined {
  const p = nodePaths(config, node);
  const pid = readPidFile(p.repmgrdPid);
  if (!isAlive(pid)) return undefined;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return pid;
  }
  const args = cmdline.split('\0');
  return args.some((a) => a.endsWith('repmgrd')) && args.includes(p.repmgrConf) ? pid : undefined;
}

export const repmgrdPid = (ctx: NodeContext): number | undefined => repmgrdPidOf(ctx.config, ctx.node);

export async function startRepmgrd(ctx: NodeContext): Promise<number> {
  const running = repmgrdPid(ctx);
  if (running) {
    await ctx.log(`repmgrd already runs (pid ${running})`);
    return running;
  }
  const p = nodePaths(ctx.config, ctx.node);
  // a pid file left by a repmgrd killed -9: repmgrd itself refuses to start while the pid in it is
  // alive, and by now that pid may be any other process's
  if (existsSync(p.repmgrdPid)) {
    rmSync(p.repmgrdPid, { force: true });
    await ctx.log(`removed ${p.repmgrdPid}, left by a repmgrd that no longer runs`);
  }
  await ctx.run.run('repmgrd', ['-f', p.repmgrConf, '--daemonize'], {
    user: ctx.config.osUsers.postgres,
    env: { PGPASSFILE: p.passfile },
    outputFile: p.repmgrdOut,
    timeoutMs: 30_000,
  });
  // repmgrd writes its pid file once it has connected to the local node
  return pollUntil('repmgrd wrote its pid file', () => repmgrdPid(ctx), {
    timeoutMs: 10_000,
    everyMs: 200,
    signal: ctx.signal,
    onTimeout: () => new Error(`repmgrd did not write ${p.repmgrdPid} within 10 s; see ${p.repmgrdLog}`),
  });
}


export async function stopRepmgrd(ctx: NodeContext): Promise<void> {
  const pid = repmgrdPid(ctx);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  // a repmgrd slow to end is not an error here (a SIGTERM'd one ends on its own); a cancelled step is
  await pollUntil('repmgrd ended', () => !repmgrdPid(ctx), { timeoutMs: 5000, everyMs: 100, signal: ctx.signal }).catch((err) => {
    if (ctx.signal?.aborted) throw err;
  });
  await ctx.log(`repmgrd (pid ${pid}) stopped`);
}

/** A node whose role changed gets a fresh repmgrd that monitors it in its new role. */
export async function restartRepmgrd(ctx: NodeContext): Promise<number> {
  await stopRepmgrd(ctx);
  return startRepmgrd(ctx);
}

/** `repmgr service pause|unpause`: repmgrd on every reachable node stops (or resumes) acting on failures. */
export async function setRepmgrdPaused(ctx: NodeContext, paused: boolean): Promise<void> {
  const res = await repmgr(ctx, ['service', paused ? 'pause' : 'unpause'], { allowFail: true, timeoutMs: 30_000 });
  if (res.exitCode !== 0) await ctx.log(`repmgr service ${paused ? 'pause' : 'unpause'} reached only some nodes (exit ${res.exitCode}); see above`);
}

/**
 * Destroy repmgrd's established TCP connections to `host:port` (`ss -K`, iproute2; needs root or
 * CAP_NET_ADMIN, and a kernel with SOCK_DESTROY), so that a query it sent to a frozen node fails
 * instead of waiting for the freeze to end (src/repmgr/unstick.ts says why). Returns how many were
 * destroyed: 0 when repmgrd does not run or holds none. Throws when `ss` fails or destroyed none of
 * those it listed (`ss -K` exits 0 even when not permitted: what it destroyed is what it prints):
 * retrying does not help until the worker has the capability.
 */
export async function destroyRepmgrdConnections(ctx: NodeContext, host: string, port: number): Promise<number> {
  const pid = repmgrdPid(ctx);
  if (!pid) return 0;
  const to = ['dst', host, 'dport', '=', String(port)];
  const listed = await ctx.run.run('ss', ['-tnpH', 'state', 'established', ...to], { timeoutMs: 5000 });
  const ports = socketsOfPid(listed.stdout, pid);
  let destroyed = 0;
  let refused = '';
  for (const sport of ports) {
    const r = await ctx.run.run('ss', ['-K', '-tnH', 'state', 'established', ...to, 'sport', '=', String(sport)], { timeoutMs: 5000 });
    destroyed += r.stdout.split('\n').filter((l) => l.trim()).length;
    if (/SOCK_DESTROY/.test(r.stderr)) refused = r.stderr.trim().split('\n')[0];
  }
  // a connection may have closed by itself between the listing and the kill: only none destroyed is a failure
  if (ports.length && !destroyed) throw new Error(`ss -K destroyed none of repmgrd's ${ports.length} connection(s) to ${host}:${port}${refused ? ` (${refused})` : ''}`);
  return destroyed;
}

/**
 * Promote this standby the way `repmgr standby promote` does, without its wait: repmgr calls
 * pg_promote(wait => false) and then sleeps promote_check_interval (1 s at least) before it first
 * looks, a second on every failover. Here PostgreSQL's pg_promote(wait => true) returns once the node
 * accepts writes (PostgreSQL's docs, "pg_promote"), then repmgr's metadata is written as repmgr writes
 * it (repmgr's update_node_record_set_primary: any other active primary inactive, this node the
 * primary with no upstream) with a standby_promote event record, committed with synchronous_commit
 * local (no standby streams from the new primary yet: under quorum replication a commit would wait).
 * Idempotent: on a node already promoted only the metadata is written again. Throws when PostgreSQL
 * has not promoted within 60 s (pg_promote returns false) or does not answer; a retry looks again.
 */
export async function promoteStandby(ctx: NodeContext, port: number, nodeId: number): Promise<void> {
  await withLocalSql(ctx, port, 'repmgr', async (c) => {
    const { recovery } = (await c.query('SELECT pg_is_in_recovery() AS recovery')).rows[0] as { recovery: boolean };
    if (recovery) {
      const { promoted } = (await c.query('SELECT pg_promote(true, 60) AS promoted')).rows[0] as { promoted: boolean };
      if (!promoted) throw new Error(`${ctx.node.name} did not finish its promotion within 60 s (pg_promote returned false); see its PostgreSQL log`);
    }
    await c.query('BEGIN');
    try {
      await c.query(`SET LOCAL synchronous_commit = local`);
      await c.query(`UPDATE repmgr.nodes SET active = FALSE WHERE type = 'primary' AND active IS TRUE AND node_id <> $1`, [nodeId]);
      await c.query(`UPDATE repmgr.nodes SET type = 'primary', upstream_node_id = NULL, active = TRUE WHERE node_id = $1`, [nodeId]);
      if (recovery) await c.query(`INSERT INTO repmgr.events (node_id, event, successful, details) VALUES ($1, 'standby_promote', TRUE, $2)`, [nodeId, `server "${ctx.node.name}" (ID: ${nodeId}) was promoted to primary by pgha (pg_promote)`]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
  await ctx.log(`${ctx.node.name} promoted (pg_promote) and recorded as the primary in repmgr's metadata`);
}
