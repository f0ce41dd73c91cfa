// Switchover / manual failover / a node worker's detected failover: promote this standby, after it has replayed the old primary's
// shutdown checkpoint (switchover) or everything it received (failover).
import { UnrecoverableError } from 'bullmq';
import { defineStep } from '../src/step.js';
import { connectAs, postmasterStatus, removeDanglingPlaceholders, withLocalSql } from '../src/postgres/actions.js';
import { promoteStandby } from '../src/repmgr/actions.js';
import { DETECTED_FAILOVER_EVENT, recordClusterEvent } from '../src/events.js';
import { failoverClaim } from '../src/flows/registry.js';
import { redisConnection } from '../src/redis.js';
import { failoverHeldBy } from '../src/status.js';
import type { StepContext } from '../src/step.js';
import { readClusterView } from '../src/probe.js';
import { lsnToBytes } from '../src/postgres/lsn.js';
import { answered, writableNodes } from '../src/roles/view.js';
import { checkPromotion, reserveTimeline, type Connect } from '../src/repmgr/validate.js';
import { findNode, nodePaths, repmgrNodeId } from '../src/config/paths.js';
import { nodeContext, notePromotion } from './context.js';
import { pollUntil } from '../src/wait.js';

/** Who holds automatic failover paused now, from Redis. */
async function heldBy(ctx: StepContext): Promise<string[]> {
  const connection = redisConnection(ctx.config.redis);
  try {
    return await failoverHeldBy(connection, ctx.config.cluster);
  } finally {
    connection.disconnect();
  }
}

export default defineStep('promote', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const sql = <T>(q: string) => withLocalSql(nc, ctx.config.postgres.port, 'postgres', async (c) => (await c.query(q)).rows[0] as T);
    const state = await sql<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    const nodeId = repmgrNodeId(ctx.config, nc.node.name);
    if (!state.recovery) {
      // a re-run after a crash between the promotion and its metadata finds it here
      await promoteStandby(nc, ctx.config.postgres.port, nodeId);
      await ctx.log(`${nc.node.name} is already the primary`);
      return { promoted: false };
    }
    const connect: Connect = (n) => connectAs(ctx.config, findNode(ctx.config, n.name), { user: 'repmgr', timeoutMs: data.connectTimeoutMs ?? 2000 });
    let reserved: number | undefined;
    const previous = Object.values(await ctx.previous()).find((v) => v && typeof v === 'object' && 'checkpointLsn' in v) as { checkpointLsn: string } | undefined;
    if (previous) {
      // switchover: the old primary stopped cleanly at checkpointLsn, which this node replays below; only a writable node stops it
      const view = await readClusterView(ctx.config);
      const writable = writableNodes(view).filter((n) => n.name !== nc.node.name);
      if (writable.length) throw new UnrecoverableError(`${writable.map((n) => n.name).join(', ')} accepts writes: stop it first, then retry this step`);
      // a number no other history has (src/roles/timeline.ts), recorded on every node that answers: the
      // old primary is stopped cleanly and rejoins, so a switchover does not wait for a majority here
      const r = await reserveTimeline({ candidate: nc.node.name, nodes: ctx.config.nodes, connect, log: (l) => void ctx.log(l) }, view, view.nodes.filter(answered).map((n) => n.name));
      await ctx.log(r.said);
      reserved = r.plan.timeline;
    } else {
      // a detected failover waited in this node's queue: maintenance or a flow may hold failover since
      if (data.detected) {
        const held = await heldBy(ctx);
        if (held.length) throw new UnrecoverableError(`promotion of ${nc.node.name} called off: automatic failover is held by ${held.join(', ')} since the failure was detected (repmgrd and the detector decide again once it is released)`);
      }
      // failover: the rule again, now (the cluster may have moved since the request was checked); the
      // siblings are detached from the old primary, which may only be frozen
      const d = await checkPromotion({
        candidate: nc.node.name,
        nodes: ctx.config.nodes,
        connect,
        force: data.force,
        log: (l) => void ctx.log(l),
        // the detector claimed this failover under the flow's id; repmgrd may have claimed it first
        ...(data.detected ? failoverClaim(ctx.config.redis, ctx.config.cluster, data.flowId, (l) => void ctx.log(l)) : {}),
      });
      if (!d.ok && d.retryable && /already claimed by/.test(d.reason)) {
        throw new UnrecoverableError(`promotion of ${nc.node.name} not needed: ${d.reason} (repmgrd's own promotion and its follow-up flow take over; see pgha status)`);
      }
      // a reservation that did not reach a majority (a lost connection, a promotion at the same moment): the step tries again
      if (!d.ok && d.retryable) throw new Error(`promotion of ${nc.node.name} not yet: ${d.reason}; this step tries again`);
      if (!d.ok) {
        throw new UnrecoverableError(
          `promotion of ${nc.node.name} refused: ${d.reason}` + (d.forceable ? `; start a new failover with --force to promote it anyway, or one --to ${d.ahead[0]?.name ?? 'another node'}` : ''),
        );
      }
      await ctx.log(`promotion rule: ${d.reason}`);
      reserved = d.timeline;
    }
    try {
      const target = previous ? lsnToBytes(previous.checkpointLsn) : null;
      let r = { replay: '', receive: null as string | null };
      await pollUntil(
        `${nc.node.name} replayed what it received`,
        async () => {
          r = await sql<{ replay: string; receive: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS replay, pg_last_wal_receive_lsn()::text AS receive');
          const replay = lsnToBytes(r.replay)!;
          return replay >= (target ?? lsnToBytes(r.receive) ?? replay);
        },
        {
          timeoutMs: 60_000,
          everyMs: 100,
          signal: ctx.signal,
          onTimeout: () =>
            new Error(
              previous
                ? `${nc.node.name} did not replay up to the old primary's shutdown checkpoint ${previous.checkpointLsn} within 60 s (at ${r.replay}); the old primary is stopped and repmgrd paused: retry this step (or, to call the switchover off, start the old primary again)`
                : `${nc.node.name} did not replay what it received (${r.receive}) within 60 s (at ${r.replay}); repmgrd is paused: retry this step`,
            ),
        },
      );
      await ctx.log(`replayed up to ${r.replay}${previous ? ` (old primary's shutdown checkpoint ${previous.checkpointLsn})` : ''}`);
      await ctx.progress(60, 'pg_promote');
      await promoteStandby(nc, ctx.config.postgres.port, nodeId);
    } catch (err) {
      // no promotion happened: the placeholders written for it would make this standby refuse to start
      if (!postmasterStatus(nodePaths(ctx.config, nc.node).dataDir) || (await sql<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery').catch(() => ({ recovery: true }))).recovery) {
        await removeDanglingPlaceholders(nc);
      }
      throw err;
    }
    // the number PostgreSQL took must be the one reserved (its placeholders gone meanwhile would let
    // it take a lower one, which another history may hold): said loudly, it cannot be undone here
    const timeline = (await sql<{ t: number }>(`SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS t`)).t;
    if (reserved !== undefined && timeline !== reserved) {
      await ctx.log(`WARNING: ${nc.node.name} took timeline ${timeline}, not the reserved ${reserved}: another history may hold that number; check pgha status and the nodes' timelines`);
    }
    await notePromotion(ctx, { timeline, node: nc.node.name, at: new Date().toISOString(), why: data.why, by: data.flowId });
    // the page's event list and the failover counter (repmgr's hook does not run: repmgr did not promote); best effort
    await recordClusterEvent(ctx.config.redis, ctx.config.cluster, { nodeId, event: data.detected ? DETECTED_FAILOVER_EVENT : 'standby_promote', success: true }).catch((err) => ctx.log(`event not recorded: ${(err as Error).message}`));
    return { promoted: true, timeline, reserved: reserved ?? null };
  },
});
