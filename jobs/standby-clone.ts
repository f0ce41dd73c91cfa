// Standby step 3: `repmgr standby clone --fast-checkpoint` from the node that is the primary now. A data directory left
// by an interrupted clone is moved aside (never deleted) and the clone starts over.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { defineStep } from '../src/step.js';
import { ensureNodeDirs, isInitialised, postmasterStatus, writeNodePassfile } from '../src/postgres/actions.js';
import { findNode, nodePaths } from '../src/config/paths.js';
import { writeRepmgrConf } from '../src/repmgr/actions.js';
import { cloneFrom, moveAside } from '../src/roles/node.js';
import { currentPrimary } from '../src/status.js';
import { nodeContext } from './context.js';

export default defineStep('standby-clone', {
  async run(ctx, data) {
    const nc = nodeContext(ctx, data.node);
    const p = nodePaths(ctx.config, nc.node);
    ensureNodeDirs(nc);
    writeNodePassfile(nc);
    writeRepmgrConf(nc);
    if (existsSync(join(p.stateDir, 'clone.done')) && isInitialised(p.dataDir)) {
      await ctx.log(`${p.dataDir} already holds a finished clone: clone skipped`);
      return { cloned: false };
    }
    const running = postmasterStatus(p.dataDir);
    if (running) {
      throw new UnrecoverableError(
        `PostgreSQL (pid ${running.pid}) runs from ${p.dataDir}, which pgha did not clone; stop it and move the directory aside before a standby first start`,
      );
    }
    // the primary now: the master at the cluster's first start, maybe another node when this one is added later
    const current = await currentPrimary(ctx.config);
    if (!current) throw new Error(`no single node takes writes now (the master is ${data.primary}): pgha status shows why; this step retries`);
    const primary = findNode(ctx.config, current);
    await moveAside(nc, 'not empty and not a finished clone');
    await ctx.progress(20, `clone from ${primary.name}`);
    await cloneFrom(nc, primary);
    return { cloned: true, from: primary.name };
  },
});
