import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { decideBarmanRepair, repairRetryAfterMs, walTimeline, type BarmanView } from '../../src/barman/reconcile.js';
import { renderBarmanServerConf, serverConfPrimary } from '../../src/barman/render.js';
import { barmanSchedules, SCHEDULERS } from '../../src/barman/schedules.js';
import { buildBarmanRepairFlow } from '../../src/flows/operations.js';
import { flowSteps } from '../../src/flows/chain.js';
import { localConfig } from './helpers.js';

const view = (extra: Partial<BarmanView> = {}): BarmanView => ({
  pointsAt: 'node1',
  primary: { name: 'node1', timeline: 3 },
  backupTimelines: [1, 3],
  busy: [],
  checkFailed: [],
  ...extra,
});

describe('walTimeline', () => {
  it('reads the timeline from a WAL file name; null for anything else', () => {
    expect(walTimeline('0000000300000000000000A1')).toBe(3);
    expect(walTimeline('0000001A0000000100000002')).toBe(26);
    expect(walTimeline(null)).toBeNull();
    expect(walTimeline('None')).toBeNull();
    expect(walTimeline('00000003.history')).toBeNull();
  });
});

describe('decideBarmanRepair: barman follows the primary from what is read', () => {
  it('streams from the primary with a backup on its timeline: nothing to do', () => {
    expect(decideBarmanRepair(view())).toEqual({ action: 'none', reason: 'barman streams from node1 and holds a backup on its timeline 3' });
  });

  it('points at a node that is not the primary (a promotion whose event was lost): switch on a fresh slot', () => {
    expect(decideBarmanRepair(view({ pointsAt: 'node2' }))).toEqual({ action: 'switch', primary: 'node1', reset: true, reason: 'barman streams from node2, but node1 is the primary (timeline 3)' });
  });

  it('points at the primary but its check says WAL streaming failed (slot gone after a rewind or a re-clone): stream again, without a reset', () => {
    const r = decideBarmanRepair(view({ checkFailed: ['receive-wal running: FAILED (See the Barman log file for more details)', 'backup maximum age: FAILED'] }));
    // the same primary: no reset (it would skip WAL and leave a gap in the archive)
    expect(r).toMatchObject({ action: 'switch', primary: 'node1', reset: false });
    expect(r.reason).toMatch(/receive-wal running/);
    expect(r.reason).not.toMatch(/maximum age/);
    // a failed check about something else is not barman's streaming
    expect(decideBarmanRepair(view({ checkFailed: ['backup maximum age: FAILED'] })).action).toBe('none');
  });

  it('no DONE backup on the primary\'s timeline: a backup', () => {
    expect(decideBarmanRepair(view({ backupTimelines: [1, 2] }))).toEqual({ action: 'backup', primary: 'node1', reason: 'no DONE backup on timeline 3 (backups on 1, 2)' });
    expect(decideBarmanRepair(view({ backupTimelines: [] })).reason).toMatch(/backups on none/);
  });

  it('an operation on barman is under way, barman is not configured, or no single primary: nothing, saying why', () => {
    expect(decideBarmanRepair(view({ pointsAt: 'node2', busy: ['barman-switch-primary', 'barman-backup', 'barman-backup'] })).reason).toBe('barman-switch-primary, barman-backup in progress');
    expect(decideBarmanRepair(view({ pointsAt: null })).reason).toMatch(/not configured yet/);
    expect(decideBarmanRepair(view({ pointsAt: 'node2', primary: null })).reason).toMatch(/no single writable primary/);
  });

  it('property: it only ever repairs toward the primary read, never while busy or without one', () => {
    const node = fc.constantFrom('node1', 'node2', 'node3');
    fc.assert(
      fc.property(
        fc.option(node, { nil: null }),
        fc.option(fc.record({ name: node, timeline: fc.integer({ min: 1, max: 9 }) }), { nil: null }),
        fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 4 }),
        fc.array(fc.constantFrom('barman-backup', 'barman-recover'), { maxLength: 2 }),
        fc.array(fc.constantFrom('receive-wal running: FAILED', 'replication slot: FAILED', 'backup maximum age: FAILED'), { maxLength: 2 }),
        (pointsAt, primary, backupTimelines, busy, checkFailed) => {
          const r = decideBarmanRepair({ pointsAt, primary, backupTimelines, busy, checkFailed });
          if (pointsAt === null || busy.length || primary === null) expect(r.action).toBe('none');
          if (r.action !== 'none') expect(r.primary).toBe(primary!.name);
          if (r.action === 'none' && primary && pointsAt === primary.name && !busy.length) expect(backupTimelines.some((t) => t >= primary.timeline)).toBe(true);
        },
      ),
    );
  });
});

describe('barman reconcile: its inputs and its flow', () => {
  const config = localConfig();
  it('reads back the node a rendered server file points at', () => {
    for (const n of config.nodes) expect(serverConfPrimary(config, renderBarmanServerConf(config, n))).toBe(n.name);
    expect(serverConfPrimary(config, 'conninfo = host=10.9.9.9 port=5432')).toBeNull();
  });
  it('runs every 30 s at most (barman.cronEveryMs when shorter), its completed runs not kept', () => {
    const s = barmanSchedules(config).find((x) => x.id === SCHEDULERS.reconcile)!;
    expect(s.repeat).toEqual({ every: 30_000 });
    expect(s.template.opts).toEqual({ removeOnComplete: true, removeOnFail: false });
    const quick = localConfig({ barman: { cronEveryMs: 5000 } });
    expect(barmanSchedules(quick).find((x) => x.id === SCHEDULERS.reconcile)!.repeat).toEqual({ every: 5000 });
  });
  it("barman cron's completed runs are not kept either (one a minute buried the flows' steps in Bull Board); backups' and checks' are", () => {
    const opts = (id: string) => barmanSchedules(config).find((x) => x.id === id)!.template.opts;
    expect(opts(SCHEDULERS.cron)).toEqual({ removeOnComplete: true, removeOnFail: false });
    expect(opts(SCHEDULERS.backup)).toEqual({ removeOnComplete: false, removeOnFail: false });
    expect(opts(SCHEDULERS.check)).toEqual({ removeOnComplete: false, removeOnFail: false });
  });
  it('the repair flow: switch (reset only when told), then a backup, in that order; or the backup alone', () => {
    const steps = (t: ReturnType<typeof buildBarmanRepairFlow>) => flowSteps(t.tree).map((j) => [j.name, j.data.node, j.data.reset]);
    // flowSteps lists the chain from its first step
    expect(steps(buildBarmanRepairFlow(config, 'node2', 'c-repair', { switchFirst: true, reset: true }))).toEqual([['barman-switch-primary', 'node2', true], ['barman-backup', 'node2', undefined]]);
    expect(steps(buildBarmanRepairFlow(config, 'node2', 'c-repair', { switchFirst: true, reset: false }))).toEqual([['barman-switch-primary', 'node2', false], ['barman-backup', 'node2', undefined]]);
    expect(steps(buildBarmanRepairFlow(config, 'node2', 'c-repair', { switchFirst: false, reset: false }))).toEqual([['barman-backup', 'node2', undefined]]);
  });
});

describe('repairRetryAfterMs: a repair that did not end the need is followed by another, sooner first', () => {
  it('1 min after the first, then doubling, never more than 10 min', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(repairRetryAfterMs)).toEqual([60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000]);
  });
});
