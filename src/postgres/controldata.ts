// pg_controldata of a stopped (or running) data directory: what a node knows of itself before it starts.
import type { NodeContext } from './actions.js';
import { pgBin } from './actions.js';
import { nodePaths } from '../config/paths.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

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

/**
 * The newest timeline among WAL segment file names (24 hex digits, timeline first; PostgreSQL's
 * naming, .partial ones included) (pure); null when there is none.
 */
export function newestSegmentTimeline(fileNames: string[]): number | null {
  let newest: number | null = null;
  for (const f of fileNames) {
    const m = /^([0-9A-F]{8})[0-9A-F]{16}(\.partial)?$/.exec(f);
    if (m) newest = Math.max(newest ?? 0, parseInt(m[1]!, 16));
  }
  return newest;
}

/**
 * The newest timeline a stopped data directory holds WAL of: its last checkpoint's, or a newer one
 * among its pg_wal segments. A node promoted and stopped (killed) before its first checkpoint on
 * the new timeline has WAL of that timeline while pg_control still names the old one; a standby
 * that followed it may hold that WAL too. Throws like readControlData.
 */
export async function newestTimelineOf(ctx: NodeContext): Promise<number> {
  const cd = await readControlData(ctx);
  let names: string[] = [];
  try {
    names = readdirSync(join(nodePaths(ctx.config, ctx.node).dataDir, 'pg_wal'));
  } catch {
    // no pg_wal to read: the checkpoint's timeline is all there is
  }
  return Math.max(cd.timeline, newestSegmentTimeline(names) ?? 0);
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
