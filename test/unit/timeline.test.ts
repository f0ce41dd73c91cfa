import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  danglingPlaceholders,
  highestTimelineOf,
  isPlaceholderHistory,
  PLACEHOLDER_MARK,
  placeholderHistory,
  planTimeline,
  reservationHolds,
  reservedTimelineIn,
  withReservedTimeline,
} from '../../src/roles/timeline.js';
import { majorityOf, type ClusterView, type NodeView } from '../../src/roles/view.js';

const T = 1_000_000;
const node = (name: string, timeline: number, timelineTaken: number | null = null, up = true): NodeView =>
  up ? { name, answeredAt: T, writable: false, timeline, timelineTaken } : { name, answeredAt: null, down: true };

describe('planTimeline: a promotion takes a number above every number a node that answers knows', () => {
  it('a sibling holds a reservation (failing input 8: the node promoted on it died before anyone followed): the next number after it, with a placeholder between', () => {
    const view: ClusterView = { nodes: [node('node1', 3, null, false), node('node2', 3), node('node3', 3, 4)] };
    expect(planTimeline('node2', view)).toEqual({ timeline: 5, placeholders: [4], because: 'node3' });
  });

  it('nobody knows more than the candidate: its timeline + 1, no placeholder', () => {
    const view: ClusterView = { nodes: [node('node1', 2), node('node2', 2), node('node3', 1)] };
    expect(planTimeline('node1', view)).toEqual({ timeline: 3, placeholders: [], because: null });
  });

  it("the candidate's own history files count (one it fetched from a primary it followed briefly)", () => {
    const view: ClusterView = { nodes: [node('node1', 2, 5), node('node2', 2)] };
    expect(planTimeline('node1', view)).toEqual({ timeline: 6, placeholders: [3, 4, 5], because: 'node1' });
  });

  it('a node that does not answer counts for nothing (its knowledge is what the reservation on a majority is for)', () => {
    const view: ClusterView = { nodes: [node('node1', 2), node('node2', 9, 9, false), node('node3', 2)] };
    expect(planTimeline('node1', view).timeline).toBe(3);
  });

  it('a node that answered an earlier read of the decision and not the last still counts with what it knew', () => {
    const view: ClusterView = { nodes: [node('node1', 2), node('node2', 2), { name: 'node3', answeredAt: null, error: 'not detached from its upstream', timelineTaken: 6 }] };
    expect(planTimeline('node1', view)).toMatchObject({ timeline: 7, because: 'node3' });
  });

  it('a candidate that did not answer has no plan (a caller error: the promotion rule refuses it first)', () => {
    expect(() => planTimeline('node2', { nodes: [node('node1', 2), node('node2', 2, null, false)] })).toThrow(/node2: timeline unknown/);
  });

  it('highestTimelineOf: the higher of its timeline and what it knows besides', () => {
    expect(highestTimelineOf(node('a', 3, 7))).toBe(7);
    expect(highestTimelineOf(node('a', 3, 2))).toBe(3);
    expect(highestTimelineOf(node('a', 3, null))).toBe(3);
    expect(highestTimelineOf({ name: 'a', answeredAt: null })).toBe(0);
  });
});

describe('reservationHolds: recorded on a majority of the whole cluster', () => {
  it('2 of 3 holds, 1 of 3 does not, 2 of 4 does not', () => {
    const three: ClusterView = { nodes: [node('a', 1), node('b', 1), node('c', 1)] };
    expect(reservationHolds(three, new Set(['a', 'b']))).toBe(true);
    expect(reservationHolds(three, new Set(['a']))).toBe(false);
    const four: ClusterView = { nodes: [node('a', 1), node('b', 1), node('c', 1), node('d', 1)] };
    expect(reservationHolds(four, new Set(['a', 'b']))).toBe(false);
    expect(reservationHolds(four, new Set(['a', 'b', 'd']))).toBe(true);
  });
});

describe('placeholder history files', () => {
  it('one fork line off the timeline below at 0/0 (repmgr looks for the node\'s own timeline in its timeline + 1), in the history file format (tab-separated), carrying the mark', () => {
    const text = placeholderHistory(4);
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const [tli, lsn, reason] = lines[0].split('\t');
    expect([tli, lsn]).toEqual(['3', '0/0']);
    expect(reason).toContain(PLACEHOLDER_MARK);
    expect(reason).toContain('timeline 4');
  });

  it('danglingPlaceholders: only placeholders above every real history file', () => {
    const real = (t: number) => `${t - 1}\t0/3000000\tno recovery target specified\n`;
    // a promotion took 5 after placeholders 3 and 4: none dangles
    expect(danglingPlaceholders(new Map([[2, real(2)], [3, placeholderHistory(3)], [4, placeholderHistory(4)], [5, real(5)]]))).toEqual([]);
    // the promotion did not happen: 3 and 4 dangle
    expect(danglingPlaceholders(new Map([[2, real(2)], [4, placeholderHistory(4)], [3, placeholderHistory(3)]]))).toEqual([3, 4]);
    // placeholders below the newest real one stay, those above go
    expect(danglingPlaceholders(new Map([[3, placeholderHistory(3)], [5, real(5)], [6, placeholderHistory(6)]]))).toEqual([6]);
    expect(danglingPlaceholders(new Map())).toEqual([]);
  });
});

describe('isPlaceholderHistory: a placeholder, or a file cut short, is not real history', () => {
  it.each([
    [placeholderHistory(5), true],
    ['4\t0/0\t', true],
    ['', true],
    ['4\t0/', true],
    ['1\t0/3000000\tno recovery target specified\n', false],
    ['1\t0/3000000\tno recovery target specified\n2\t0/5000060\tno recovery target specified\n', false],
  ])('%j → %s', (text, placeholder) => {
    expect(isPlaceholderHistory(text)).toBe(placeholder);
  });
});

describe('postgresql.auto.conf reservation', () => {
  const autoConf = "# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\nprimary_conninfo = 'host=127.0.0.12 user=repmgr'\n";
  it('read: none, one, the highest of several', () => {
    expect(reservedTimelineIn(autoConf)).toBeNull();
    expect(reservedTimelineIn(autoConf + "pgha.reserved_timeline = '7'\n")).toBe(7);
    expect(reservedTimelineIn("pgha.reserved_timeline = '9'\n" + autoConf + "pgha.reserved_timeline = '7'\n")).toBe(9);
  });

  it('written: replaced in place of the old one, other lines kept', () => {
    const once = withReservedTimeline(autoConf, 5);
    expect(once).toBe(autoConf + "pgha.reserved_timeline = '5'\n");
    const twice = withReservedTimeline(once, 8);
    expect(reservedTimelineIn(twice)).toBe(8);
    expect(twice.match(/pgha\.reserved_timeline/g)).toHaveLength(1);
    expect(twice).toContain("primary_conninfo = 'host=127.0.0.12 user=repmgr'");
    expect(withReservedTimeline('', 3)).toBe("pgha.reserved_timeline = '3'\n");
  });
});

/**
 * A model of a cluster over time: nodes hold a timeline and a reservation; a promotion sees some
 * majority that includes its candidate, plans, records its number on that majority and takes it; a
 * node follows, is rewound or re-cloned from another (taking its timeline and the higher of the two
 * reservations, as pgha carries a reservation across them). No two promotions may take one number.
 */
describe('property: no two promotions ever take the same timeline number', () => {
  type Op = { kind: 'promote'; candidate: number; others: number[] } | { kind: 'copy'; to: number; from: number };
  const clusterSize = fc.integer({ min: 1, max: 7 });
  const scenario = clusterSize.chain((n) =>
    fc.record({
      n: fc.constant(n),
      ops: fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('promote' as const), candidate: fc.nat(n - 1), others: fc.shuffledSubarray([...Array(n).keys()]) }),
          fc.record({ kind: fc.constant('copy' as const), to: fc.nat(n - 1), from: fc.nat(n - 1) }),
        ),
        { maxLength: 40 },
      ) as fc.Arbitrary<Op[]>,
    }),
  );

  it('holds for every sequence of promotions on majorities and follows/rewinds/clones (1 to 7 nodes)', () => {
    fc.assert(
      fc.property(scenario, ({ n, ops }) => {
        const names = [...Array(n).keys()].map((i) => `node${i + 1}`);
        const state = names.map(() => ({ timeline: 1, reserved: null as number | null }));
        const taken = new Set<number>([1]);
        for (const op of ops) {
          if (op.kind === 'copy') {
            state[op.to] = { timeline: state[op.from].timeline, reserved: Math.max(state[op.to].reserved ?? 0, state[op.from].reserved ?? 0) || null };
            continue;
          }
          const seen = new Set([op.candidate, ...op.others]);
          if (seen.size < majorityOf(n)) continue; // the promotion rule refuses without a majority
          const view: ClusterView = {
            nodes: names.map((name, i) => (seen.has(i) ? node(name, state[i].timeline, state[i].reserved) : node(name, 0, null, false))),
          };
          const plan = planTimeline(names[op.candidate], view);
          expect(reservationHolds(view, new Set([...seen].map((i) => names[i])))).toBe(true);
          expect(taken.has(plan.timeline)).toBe(false);
          for (const t of taken) expect(plan.timeline).toBeGreaterThan(t);
          taken.add(plan.timeline);
          for (const i of seen) state[i].reserved = Math.max(state[i].reserved ?? 0, plan.timeline);
          state[op.candidate].timeline = plan.timeline;
        }
      }),
      { numRuns: 500, seed: 8 },
    );
  });

  it('holds with reservations that reach only some nodes (a refused promotion leaves them behind) and two promotions planned from the same stale view at once, reservations raised only', () => {
    type Attempt = { candidate: number; others: number[]; reached: number[] };
    const attempt = (n: number) => fc.record({ candidate: fc.nat(n - 1), others: fc.shuffledSubarray([...Array(n).keys()]), reached: fc.shuffledSubarray([...Array(n).keys()]) });
    const scenario = fc.integer({ min: 1, max: 7 }).chain((n) =>
      fc.record({ n: fc.constant(n), rounds: fc.array(fc.tuple(attempt(n), fc.option(attempt(n), { nil: undefined })), { maxLength: 25 }) }),
    );
    fc.assert(
      fc.property(scenario, ({ n, rounds }) => {
        const names = [...Array(n).keys()].map((i) => `node${i + 1}`);
        const state = names.map(() => ({ timeline: 1, reserved: null as number | null }));
        const taken = new Set<number>([1]);
        for (const [a, b] of rounds) {
          // both plan from the same reads, then record one after the other
          const planned = [a, b].filter((x): x is Attempt => x !== undefined).map((x) => {
            const seen = new Set([x.candidate, ...x.others]);
            const view: ClusterView = { nodes: names.map((name, i) => (seen.has(i) ? node(name, state[i].timeline, state[i].reserved) : node(name, 0, null, false))) };
            return { x, seen, view, plan: seen.size >= majorityOf(n) ? planTimeline(names[x.candidate], view) : null };
          });
          for (const { x, seen, view, plan } of planned) {
            if (!plan) continue; // the promotion rule refuses without a majority
            const recorded = new Set<string>();
            for (const i of x.reached.filter((r) => seen.has(r) || r === x.candidate)) {
              // raised only: a node holding as much or more does not count
              if ((state[i].reserved ?? 0) >= plan.timeline) continue;
              state[i].reserved = plan.timeline;
              recorded.add(names[i]);
            }
            if (!reservationHolds(view, recorded)) continue; // refused: its reservations stay behind
            expect(taken.has(plan.timeline)).toBe(false);
            taken.add(plan.timeline);
            state[x.candidate].timeline = plan.timeline;
          }
        }
      }),
      { numRuns: 500, seed: 10 },
    );
  });
});
