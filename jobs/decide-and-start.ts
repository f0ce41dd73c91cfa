// Restart flows, first step: ask the peers who the primary is, decide (src/roles/decide.ts), and
// start in that role. A node that cannot prove it is the primary never starts writable.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { defineStep } from '../src/step.js';
import { nodePaths } from '../src/config/paths.js';
import { ensureRunningOn, isInitialised, postmasterStatus, renderNodeFiles } from '../src/postgres/actions.js';
import { newestTimelineOf } from '../src/postgres/controldata.js';
import { writeRepmgrConf } from '../src/repmgr/actions.js';
import { decideRole } from '../src/roles/decide.js';
import { clonePartialMarker, ensureFollows, rejoin, resumeReclone, startAsStandby, streamingFrom, waitStreaming } from '../src/roles/node.js';
import { findNode } from '../src/config/paths.js';
import { currentPrimary } from '../src/status.js';
import { readClusterView } from '../src/probe.js';
import { answered } from '../src/roles/view.js';
import { nodeContext } from './context.js';

export default defineStep('decide-and-start', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const p = nodePaths(ctx.config, nc.node);
    writeRepmgrConf(nc);
    if (!isInitialised(p.dataDir) || (existsSync(clonePartialMarker(nc)) && !postmasterStatus(p.dataDir))) {
      if (!existsSync(p.startedMarker)) {
        throw new UnrecoverableError(`${p.dataDir} has no data directory and ${nc.node.name} never finished a first start: its node worker runs the first start when it starts (restart the worker)`);
      }
      // a re-clone interrupted by a crash: clone again, as a standby of the primary of the moment
      await ctx.progress(20, 'resume an interrupted re-clone');
      const from = await resumeReclone(nc, await currentPrimary(ctx.config));
      await ctx.log(`${nc.node.name} re-cloned from ${from} (an earlier clone was interrupted)`);
      return { action: 'reclone', primary: from, reason: 'no usable data directory: an interrupted re-clone, done again' };
    }
    const running = postmasterStatus(p.dataDir);
    if (running) {
      const now = await streamingFrom(nc);
      await ctx.log(`PostgreSQL already runs (pid ${running.pid}) as ${now.recovery ? 'standby' : 'primary'}: nothing to decide`);
      return { action: 'already-running', role: now.recovery ? 'standby' : 'primary' };
    }
    await ctx.progress(10, 'ask the peers');
    const self = { name: nc.node.name, wasStandby: existsSync(join(p.dataDir, 'standby.signal')), timeline: await newestTimelineOf(nc) };
    const view = await readClusterView(ctx.config);
    for (const peer of view.nodes.filter((n) => n.name !== nc.node.name)) {
      await ctx.log(
        answered(peer)
          ? `peer ${peer.name}: ${peer.writable ? 'PRIMARY' : 'standby'}, timeline ${peer.timeline}, repmgr primary ${peer.repmgrPrimaries?.join(',') || '-'}`
          : `peer ${peer.name}: unreachable (${peer.error})`,
      );
    }
    const decision = decideRole(self, view);
    await ctx.log(`decision: ${decision.action}: ${decision.reason}`);
    switch (decision.action) {
      case 'refuse':
        // retried with backoff: the answer may change when a peer comes back
        throw new Error(`${nc.node.name} stays down: ${decision.reason}`);
      case 'start-primary':
        await ctx.progress(50, 'start as primary');
        renderNodeFiles(nc, { replication: true });
        await ensureRunningOn(nc, ctx.config.postgres.port);
        break;
      case 'start-standby':
        await ctx.progress(50, 'start as standby');
        await startAsStandby(nc);
        if (decision.upstream) {
          const upstream = await waitStreaming(nc, decision.upstream, 5000).catch(() => null);
          if (!upstream) await ensureFollows(nc, findNode(ctx.config, decision.upstream));
        }
        break;
      case 'rejoin':
        await ctx.progress(40, `rejoin ${decision.primary}`);
        return { ...decision, how: await rejoin(nc, decision.primary) };
    }
    return decision;
  },
});
