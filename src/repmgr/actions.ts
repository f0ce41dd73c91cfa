// Typed actions around repmgr and repmgrd.
import { nodePaths } from '../config/paths.js';
import { isAlive, readPidFile, writeFileAtomic } from '../fsutil.js';
import type { CommandResult, RunOptions } from '../exec/runner.js';
import type { NodeContext } from '../postgres/actions.js';
import { renderRepmgrConf } from './render.js';

export function writeRepmgrConf(ctx: NodeContext): boolean {
  return writeFileAtomic(nodePaths(ctx.config, ctx.node).repmgrConf, renderRepmgrConf(ctx.config, ctx.node), {
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

export function repmgrdPid(ctx: NodeContext): number | undefined {
  const pid = readPidFile(nodePaths(ctx.config, ctx.node).repmgrdPid);
  return isAlive(pid) ? pid : undefined;
}

export async function startRepmgrd(ctx: NodeContext): Promise<number> {
  const running = repmgrdPid(ctx);
  if (running) {
    await ctx.log(`repmgrd already runs (pid ${running})`);
    return running;
  }
  const p = nodePaths(ctx.config, ctx.node);
  await ctx.run.run('repmgrd', ['-f', p.repmgrConf, '--daemonize'], {
    user: ctx.config.osUsers.postgres,
    env: { PGPASSFILE: p.passfile },
    outputFile: p.repmgrdOut,
    timeoutMs: 30_000,
  });
  // repmgrd writes its pid file once it has connected to the local node
  for (let i = 0; i < 50; i++) {
    const pid = repmgrdPid(ctx);
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`repmgrd did not write ${p.repmgrdPid} within 10 s; see ${p.repmgrdLog}`);
}

