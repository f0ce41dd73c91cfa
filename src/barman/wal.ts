// What a restore can reach (pure): which timeline PostgreSQL's recovery follows from a backup, which
// archived WAL segments it replays, and the last transaction in them. A recovery target past that
// point makes PostgreSQL stop with "recovery ended before configured recovery target was reached"
// (PostgreSQL 13 and later) after every node was stopped: the restore's pre-check refuses it instead.

import { lsnToBytes } from '../postgres/lsn.js';

/** 16 MiB segments (PostgreSQL's default, and pgha's): segments per "log" file number. */
const SEGMENTS_PER_LOG = 0x100;
const SEGMENT_BYTES = 16n * 1024n * 1024n;

export interface WalSegment {
  name: string;
  timeline: number;
  /** Segment number: log * 256 + seg (16 MiB segments). */
  segNo: number;
}

/** A WAL segment file name (24 hex digits: timeline, log, segment), or null for anything else. */
export function parseWalName(name: string): WalSegment | null {
  const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!m) return null;
  return { name, timeline: parseInt(m[1], 16), segNo: parseInt(m[2], 16) * SEGMENTS_PER_LOG + parseInt(m[3], 16) };
}

const segOf = (lsn: bigint) => Number(lsn / SEGMENT_BYTES);

/** A timeline history file (`0000000N.history`): each ancestor and the LSN where the next timeline branched off it. */
export function parseHistory(text: string): { timeline: number; switchLsn: bigint }[] {
  const out: { timeline: number; switchLsn: bigint }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (m) out.push({ timeline: Number(m[1]), switchLsn: lsnToBytes(m[2])! });
  }
  return out;
}

export interface RecoveryPath {
  /** The timeline recovery ends on: recovery_target_timeline 'latest' scans history files upward from the backup's timeline while they exist. */
  timeline: number;
  /** The timelines replayed, oldest first, each with the first segment read from it. */
  timelines: { timeline: number; fromSeg: number }[];
}

/**
 * The timelines a recovery from a backup on `backupTimeline` (its checkpoint at `backupStartLsn`)
 * replays with recovery_target_timeline 'latest', PostgreSQL's default since 12: the newest timeline
 * found by probing history files backupTimeline+1, +2, … (PostgreSQL's findNewestTimeLine), which
 * must have the backup's timeline in its history past the backup's start, else PostgreSQL refuses it
 * ("requested timeline … is not a child of this server's history"): returned as a problem.
 */
export function recoveryPath(backupTimeline: number, backupStartLsn: bigint, histories: Map<number, string>): RecoveryPath | { problem: string } {
  let newest = backupTimeline;
  while (histories.has(newest + 1)) newest++;
  if (newest === backupTimeline) return { timeline: newest, timelines: [{ timeline: newest, fromSeg: segOf(backupStartLsn) }] };
  const history = parseHistory(histories.get(newest)!);
  const at = history.findIndex((h) => h.timeline === backupTimeline);
  if (at < 0 || history[at].switchLsn <= backupStartLsn) {
    return { problem: `timeline ${newest}, the newest in barman's archive, did not branch from the backup's timeline ${backupTimeline} after the backup started: PostgreSQL would refuse to follow it` };
  }
  const timelines = [{ timeline: backupTimeline, fromSeg: segOf(backupStartLsn) }];
  for (let i = at; i < history.length; i++) timelines.push({ timeline: i + 1 < history.length ? history[i + 1].timeline : newest, fromSeg: segOf(history[i].switchLsn) });
  return { timeline: newest, timelines };
}

/**
 * The archived segments recovery replays along `path`, from the backup's first segment, oldest first;
 * for each segment the newest timeline of the path that begins at or before it and has that file
 * (PostgreSQL reads the newest such file). The list ends at the first missing segment: recovery ends there.
 */
export function segmentsToReplay(files: string[], path: RecoveryPath): WalSegment[] {
  const have = new Map<string, WalSegment>();
  for (const f of files) {
    const s = parseWalName(f);
    if (s) have.set(`${s.timeline}:${s.segNo}`, s);
  }
  const out: WalSegment[] = [];
  for (let seg = path.timelines[0].fromSeg; ; seg++) {
    const found = [...path.timelines]
      .reverse()
      .filter((t) => t.fromSeg <= seg)
      .map((t) => have.get(`${t.timeline}:${seg}`))
      .find((s) => s !== undefined);
    if (!found) return out;
    out.push(found);
  }
}

export interface WalDumpSummary {
  /** Time of the last commit or abort record (ISO 8601), or null when the segment has none. */
  lastXactTime: string | null;
  /** LSN of the last record read. */
  lastLsn: string | null;
}

/**
 * pg_waldump's output for one segment (run with TZ=UTC): the last transaction end (COMMIT or ABORT,
 * the records recovery_target_time is compared with) and the last record's LSN.
 */
export function summarizeWalDump(output: string): WalDumpSummary {
  let lastXactTime: string | null = null;
  let lastLsn: string | null = null;
  for (const line of output.split('\n')) {
    const lsn = /\blsn: ([0-9A-F]+\/[0-9A-F]+)/.exec(line);
    if (lsn) lastLsn = lsn[1];
    const x = /rmgr: Transaction .*desc: (?:COMMIT|ABORT)(?:_PREPARED)? (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC/.exec(line);
    if (x) lastXactTime = new Date(`${x[1].replace(' ', 'T')}Z`).toISOString();
  }
  return { lastXactTime, lastLsn };
}
