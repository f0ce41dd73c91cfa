// The cluster's history (src/history.ts): PostgreSQL's timeline history files, parsed, joined with
// pgha's promotion records.
import { describe, expect, it } from '@jest/globals';
import { buildHistory, formatHistory, parseTimelineHistory, type PromotionRecord } from '../../src/history.js';

// as PostgreSQL 15 writes them (writeTimeLineHistory): parent, switchpoint, reason
const TL2 = '1\t0/5000198\tno recovery target specified\n';
const TL3 = '1\t0/5000198\tno recovery target specified\n\n2\t0/7A3F2E8\tno recovery target specified\n';
const TL4 = `${TL3}\n3\t0/9000000\tbefore 2026-12-01 10:00:00.000001+00\n`;

describe('parseTimelineHistory', () => {
  it('reads each line oldest first; the last line is the file\'s own fork', () => {
    expect(parseTimelineHistory(TL4)).toEqual([
      { parent: 1, forkLsn: '0/5000198', reason: 'no recovery target specified' },
      { parent: 2, forkLsn: '0/7A3F2E8', reason: 'no recovery target specified' },
      { parent: 3, forkLsn: '0/9000000', reason: 'before 2026-12-01 10:00:00.000001+00' },
    ]);
    expect(parseTimelineHistory('# comment\n\n1\t0/3000060\n')).toEqual([{ parent: 1, forkLsn: '0/3000060', reason: '' }]);
  });

  it('refuses what is not a history file', () => {
    expect(() => parseTimelineHistory('hello\n')).toThrow(/not a timeline history line: "hello"/);
  });
});

describe('buildHistory', () => {
  const records: PromotionRecord[] = [
    { timeline: 2, node: 'node2', at: '2026-12-01T09:00:00.000Z', why: 'failover', by: 'repmgrd' },
    { timeline: 3, node: 'node1', at: '2026-12-01T09:30:00.000Z', why: 'switchover', by: 'pgha-switchover-node1-1' },
    { timeline: 4, node: 'node1', at: '2026-12-01T10:05:00.000Z', why: 'restore', by: 'pgha-restore-1' },
  ];

  it('every timeline with its parent, fork LSN, when, who and why; the current one and its ancestors marked', () => {
    const files = new Map([[2, parseTimelineHistory(TL2)], [3, parseTimelineHistory(TL3)], [4, parseTimelineHistory(TL4)]]);
    const h = buildHistory({ currentTimeline: 4, primary: 'node1', files, records, firstStartAt: '2026-12-01T08:00:00.000Z' });
    expect(h.timelines).toEqual([
      { timeline: 1, parent: null, forkLsn: null, at: '2026-12-01T08:00:00.000Z', node: null, why: 'first start', by: null, current: true },
      { timeline: 2, parent: 1, forkLsn: '0/5000198', at: records[0]!.at, node: 'node2', why: 'failover', by: 'repmgrd', current: true },
      { timeline: 3, parent: 2, forkLsn: '0/7A3F2E8', at: records[1]!.at, node: 'node1', why: 'switchover', by: 'pgha-switchover-node1-1', current: true },
      { timeline: 4, parent: 3, forkLsn: '0/9000000', at: records[2]!.at, node: 'node1', why: 'restore', by: 'pgha-restore-1', current: true },
    ]);
    const text = formatHistory(h);
    expect(text.split('\n')[0]).toMatch(/^TIMELINE\s+PARENT\s+FORKED AT\s+WHEN\s+NODE\s+WHY\s+BY$/);
    expect(text).toMatch(/^4 \*\s+3\s+0\/9000000\s+2026-12-01T10:05:00.000Z\s+node1\s+restore\s+pgha-restore-1$/m);
    expect(text).toMatch(/node1 writes on timeline 4 \(\*\)$/);
  });

  it('a restore to a point before a later timeline leaves that branch: listed, marked left; a timeline pgha did not record is said so', () => {
    // timeline 4 restored from a backup on timeline 2: its parent is 2, and 3 is a branch left
    const files = new Map([[2, parseTimelineHistory(TL2)], [3, parseTimelineHistory(TL3)], [4, parseTimelineHistory(`${TL2}2\t0/6000000\tno recovery target specified\n`)], [5, parseTimelineHistory(`${TL2}2\t0/6000000\tx\n4\t0/6100000\tx\n`)]]);
    const h = buildHistory({ currentTimeline: 5, primary: 'node1', files, records });
    expect(h.timelines.map((t) => [t.timeline, t.parent, t.current, t.why])).toEqual([
      [1, null, true, 'first start'],
      [2, 1, true, 'failover'],
      [3, 2, false, 'switchover'],
      [4, 2, true, 'restore'],
      [5, 4, true, null],
    ]);
    expect(formatHistory(h)).toMatch(/^3 \(left\)\s+2\s+/m);
    expect(formatHistory(h)).toMatch(/^5 \*\s+4\s+0\/6100000\s+-\s+-\s+not recorded by pgha\s+-$/m);
  });

  it('no primary answers: no current timeline, every known one listed', () => {
    const h = buildHistory({ currentTimeline: null, primary: null, files: new Map(), records });
    expect(h.timelines.map((t) => t.timeline)).toEqual([1, 2, 3, 4]);
    expect(formatHistory(h)).toMatch(/no node answers as the primary$/);
  });
});
