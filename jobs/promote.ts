// Switchover / manual failover: promote this standby, after it has replayed the old primary's
// shutdown checkpoint (switchover) or everything it received (failover).
import { UnrecoverableError } from 'bullmq';
import { defineStep, StepDataBase } from '../src/step.js';
import { withLocalSql } from '../src/postgres/actions.js';
import { repmgr } from '../src/repmgr/actions.js';
import { lsnToBytes, peerViews } from '../src/status.js';
import { nodeContext, sleep } from './context.js';

export default defineStep({
  name: 'promote',
  schema: StepDataBase,
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const sql = <T>(q: string) => withLocalSql(nc, ctx.config.postgres.port, 'postgres', async (c) => (await c.query(q)).rows[0] as T);
    const state = await sql<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    if (!state.recovery) {
      await ctx.log(`${nc.node.name} is already the primary`);
      return { promoted: false };
    }
    // never promote beside a primary that still takes writes
    const writable = (await peerViews(ctx.config, nc.node.name)).filter((p) => p.reachable && p.inRecovery === false);
    if (writable.length) {
      throw new UnrecoverableError(`${writable.map((p) => p.name).join(', ')} still accepts writes: stop it first (use pgha switchover --to ${nc.node.name} for a planned change)`);
    }
    const previous = Object.values(await ctx.previous()).find((v) => v && typeof v === 'object' && 'checkpointLsn' in v) as { checkpointLsn: string } | undefined;
    const target = previous ? lsnToBytes(previous.checkpointLsn) : null;
    for (let i = 0; ; i++) {
      const r = await sql<{ replay: string; receive: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS replay, pg_last_wal_receive_lsn()::text AS receive');
      const replay = lsnToBytes(r.replay)!;
      const goal = target ?? lsnToBytes(r.receive) ?? replay;
      if (replay >= goal) {
        await ctx.log(`replayed up to ${r.replay}${previous ? ` (old primary's shutdown checkpoint ${previous.checkpointLsn})` : ''}`);
        break;
      }
      if (i > 600) throw new Error(`${nc.node.name} did not replay up to ${previous?.checkpointLsn ?? r.receive} within 60 s (at ${r.replay}); the old primary is stopped, repmgrd paused: retry this step or restart the old primary`);
      await sleep(100, ctx.signal);
    }
    await ctx.progress(60, 'repmgr standby promote');
    await repmgr(nc, ['standby', 'promote']);
    return { promoted: true };
  },
});
