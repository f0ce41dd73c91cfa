// pg_controldata of a stopped (or running) data directory: what a node knows of itself before it starts.
import type { NodeContext } from './actions.js';
import { pgBin } from './actions.js';
import { nodePaths } from '../config/paths.js';

export interface ControlData {
  /** "in production", "shut down", "shut down in recovery", "in archive recovery", "in crash recovery", … */
  state: string;
  timeline: number;
  checkpointLsn: string;
  systemIdentifier: string;
}

/** Parse pg_controldata's output (pure). */
export function parseControlData(text: string): ControlData {
  const field = (label: string) => {
    const line = text.split('\n').find((l) => l.startsWith(label));
    if (!line) throw new Error(`pg_controldata output has no "${label}" line`);
    return line.slice(line.indexOf(':') + 1).trim();
  };
  const state = field('Database cluster state');
  const timeline = Number(field("Latest checkpoint's TimeLineID"));
  // the restart decision compares timelines: NaN would silently pass every "newer timeline" check
  if (!Number.isInteger(timeline) || timeline < 1) throw new Error(`pg_controldata gave an invalid timeline (${field("Latest checkpoint's TimeLineID")})`);
  return {
    state,
    timeline,
    checkpointLsn: field('Latest checkpoint location'),
    systemIdentifier: field('Database system identifier'),
  };
}

export async function readControlData(ctx: NodeContext): Promise<ControlData> {
  const res = await ctx.run.run(pgBin(ctx.config, 'pg_controldata'), ['-D', nodePaths(ctx.config, ctx.node).dataDir], {
    user: ctx.config.osUsers.postgres,
    env: { LC_ALL: 'C' },
    timeoutMs: 30_000,
    maxLogLines: 0,
  });
  return parseControlData(res.stdout);
}

/** Shut down cleanly (states pg_rewind and repmgr accept without crash recovery first). */
export const CLEAN_STATES = ['shut down', 'shut down in recovery'];
