import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  FENCE_STOP_MS,
  fenceBudgetProblem,
  fencedWithinMs,
  initialWatchdogState,
  majoritySeenAt,
  ownAnswerWithinMs,
  busyHoldEndsMs,
  promotionWindowMs,
  watchdogStep,
  backstopStep,
  BACKSTOP_MISSES_TO_FENCE,
  type Observation,
  type WatchdogState,
} from '../../src/roles/fence.js';
import { hasMajority, type ClusterView, type NodeView } from '../../src/roles/view.js';
import { nodeViewOf } from '../../src/probe.js';
import { resolveConfig } from '../../src/config/load.js';
import { localRaw, problemsOf } from './helpers.js';

// ---- fixtures: a 3-node cluster, node1 looking; times in ms -------------------------------------

const settings = { afterMs: 1000, checkEveryMs: 250, settleMs: 17_000, earliestPromotionMs: 2000 };
const STARTED = 1_000;
const T = 100_000;
// its own PostgreSQL answered the previous check's probe (checkEveryMs ago), as on a machine that is not busy
const primary = (extra: Partial<NodeView> = {}): NodeView => ({ name: 'node1', writable: true, timeline: 2, repmgrdPaused: false, startedAt: STARTED, answeredAt: T - 250, ...extra });
const standby = (): NodeView => ({ name: 'node1', writable: false, timeline: 2, repmgrdPaused: false, startedAt: STARTED, answeredAt: T - 250 });
const peer = (name: string, answeredAt: number | null, extra: Partial<NodeView> = {}): NodeView => ({ name, answeredAt, writable: false, timeline: 2, ...extra });
const armed = (extra: Partial<WatchdogState> = {}): WatchdogState => ({ ...initialWatchdogState(), armedFor: STARTED, ...extra });
/** node1's running view: its own latest answer (null: its latest probe got none) and its peers' latest answers. */
const obs = (self: NodeView | null, peers: NodeView[], extra: Partial<Observation> = {}): Observation => ({ now: T, self: 'node1', view: { nodes: [self ?? { name: 'node1', answeredAt: null }, ...peers] }, steadySince: 0, ...extra });
/** When node1 last saw a majority of itself and these peers. */
const seenAt = (peers: NodeView[]) => majoritySeenAt({ nodes: [{ name: 'node1', answeredAt: null }, ...peers] }, 'node1');
const step = (state: WatchdogState, o: Observation) => watchdogStep(state, o, settings);

describe('majoritySeenAt: when this node last saw itself + enough peers', () => {
  it('3 nodes: the newest answer of either peer (one peer makes a majority)', () => {
    expect(seenAt([peer('node2', 500), peer('node3', 900)])).toBe(900);
    expect(seenAt([peer('node2', null), peer('node3', 900)])).toBe(900);
  });
  it('5 nodes: the second newest (two peers needed)', () => {
    expect(seenAt([peer('a', 100), peer('b', 400), peer('c', 300), peer('d', null)])).toBe(300);
  });
  it('never answered enough peers: null', () => {
    expect(seenAt([peer('a', null), peer('b', null)])).toBeNull();
    expect(seenAt([peer('a', 10), peer('b', null), peer('c', null), peer('d', null)])).toBeNull();
  });
  it('2 nodes: the one peer is needed; 1 node: always a majority', () => {
    expect(seenAt([peer('node2', 700)])).toBe(700);
    expect(seenAt([])).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('watchdogStep on a writable primary', () => {
  it('sees a majority: nothing to do, and it arms for this run of PostgreSQL', () => {
    const r = step(initialWatchdogState(), obs(primary(), [peer('node2', T - 200), peer('node3', null)]));
    expect(r.decision.action).toBe('none');
    expect(r.state.armedFor).toBe(STARTED);
  });

  it('armed, no peer answered for longer than afterMs: fence, saying when it last saw a majority', () => {
    const r = step(armed(), obs(primary(), [peer('node2', T - 1200), peer('node3', T - 1500)]));
    expect(r.decision).toEqual({ action: 'fence', reason: expect.stringMatching(/last saw a majority of the 3 nodes 1200 ms ago \(fencing\.afterMs 1000\)/) });
    expect(r.state.fencedAt).toBe(T);
  });

  it('exactly afterMs since the last answer: still a majority (fences only after)', () => {
    expect(step(armed(), obs(primary(), [peer('node2', T - 1000), peer('node3', null)])).decision.action).toBe('none');
    expect(step(armed(), obs(primary(), [peer('node2', T - 1001), peer('node3', null)])).decision.action).toBe('fence');
  });

  it('one standby lost, the other answers: a majority, no fence', () => {
    expect(step(armed(), obs(primary(), [peer('node2', null), peer('node3', T - 100)])).decision.action).toBe('none');
  });

  it('5 nodes: one answering peer is not enough', () => {
    const peers = [peer('a', T - 100), peer('b', T - 5000), peer('c', null), peer('d', null)];
    expect(step(armed(), obs(primary(), peers)).decision.action).toBe('fence');
    peers[1] = peer('b', T - 300);
    expect(step(armed(), obs(primary(), peers)).decision.action).toBe('none');
  });

  it('not armed (no majority seen since this PostgreSQL started: first start, restore, re-clone): no fence', () => {
    const r = step(initialWatchdogState(), obs(primary(), [peer('node2', null), peer('node3', null)]));
    expect(r.decision).toEqual({ action: 'none', reason: expect.stringMatching(/^not armed/) });
    // armed for an earlier run of PostgreSQL: a restart disarms
    expect(step(armed(), obs(primary({ startedAt: STARTED + 1 }), [peer('node2', T - 5000), peer('node3', null)])).decision.action).toBe('none');
  });

  it('its PostgreSQL start time unknown: never armed, so never fenced for silent peers (arming holds for one run of PostgreSQL)', () => {
    const r = step(armed({ armedFor: null }), obs(primary({ startedAt: undefined }), [peer('node2', T - 5000), peer('node3', null)]));
    expect(r.decision).toEqual({ action: 'none', reason: 'its PostgreSQL start time is unknown: not armed' });
    expect(r.state.armedFor).toBeNull();
  });

  it('repmgrd paused (an operation in progress, no automatic promotion): no fence', () => {
    const r = step(armed(), obs(primary({ repmgrdPaused: true }), [peer('node2', T - 5000), peer('node3', T - 5000)]));
    expect(r.decision).toEqual({ action: 'none', reason: expect.stringMatching(/repmgrd is paused/) });
  });

  it('checks ran late (the process stalled) within the last afterMs: looks again instead of fencing on old answers', () => {
    const peers = [peer('node2', T - 3000), peer('node3', T - 3000)];
    expect(step(armed(), obs(primary(), peers, { steadySince: T - 500 })).decision).toEqual({ action: 'none', reason: expect.stringMatching(/late/) });
    expect(step(armed(), obs(primary(), peers, { steadySince: T - 1000 })).decision.action).toBe('fence');
  });

  it('peers silent while its own PostgreSQL answers slowly too (a busy machine): looks again, but never past the earliest promotion', () => {
    expect(ownAnswerWithinMs(settings)).toBe(750);
    // 2000 ms earliest promotion - 250 ms check - 500 ms stop
    expect(busyHoldEndsMs(settings)).toBe(1250);
    const silentFor = (ms: number) => [peer('node2', T - ms), peer('node3', T - ms)];
    const r = step(armed(), obs(primary({ answeredAt: T - 751 }), silentFor(1100)));
    expect(r.decision).toEqual({ action: 'none', reason: expect.stringMatching(/own PostgreSQL answered last to a probe sent 751 ms ago .*busy, not cut off/) });
    expect(r.state.fencedAt).toBeNull();
    // a busy primary may be cut off too: at the end of the hold it fences, busy or not
    expect(step(armed(), obs(primary({ answeredAt: T - 751 }), silentFor(1250))).decision.action).toBe('fence');
    // a cut: its own PostgreSQL answers at once while the peers stay silent
    expect(step(armed(), obs(primary({ answeredAt: T - 750 }), silentFor(1100))).decision.action).toBe('fence');
  });

  it('the hold never outlasts the budget: with slower repmgr timings it is longer, never shorter than afterMs', () => {
    expect(busyHoldEndsMs({ ...settings, earliestPromotionMs: 10_000 })).toBe(9250);
    expect(busyHoldEndsMs({ ...settings, earliestPromotionMs: 1000 })).toBe(1000);
  });

  it('property: a slow own answer holds only within the busy hold; otherwise silent peers always fence, and a cut-off primary is stopped before the earliest promotion (3 to 6 nodes)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 6 }), fc.array(fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: null }), { minLength: 5, maxLength: 5 }), fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1000, max: 20_000 }), (size, ages, ownAge, earliestPromotionMs) => {
        const s = { ...settings, earliestPromotionMs };
        const peers = ages.slice(0, size - 1).map((age, i) => peer(`p${i}`, age === null ? null : T - age));
        const d = watchdogStep(armed(), obs(primary({ answeredAt: T - ownAge }), peers), s).decision;
        const seen = seenAt(peers);
        const majorityLost = seen === null || T - seen > s.afterMs;
        const held = ownAge > ownAnswerWithinMs(s) && seen !== null && T - seen < busyHoldEndsMs(s);
        expect(d.action).toBe(majorityLost && !held ? 'fence' : 'none');
        // fenced at the first check after the hold, stopped within FENCE_STOP_MS: before a standby can be promoted
        if (earliestPromotionMs > s.afterMs + s.checkEveryMs + FENCE_STOP_MS) expect(busyHoldEndsMs(s) + s.checkEveryMs + FENCE_STOP_MS).toBeLessThanOrEqual(earliestPromotionMs);
      }),
    );
  });

  it('a peer accepts writes on a newer timeline: fence at once, armed or not, paused or not', () => {
    const newer = [peer('node2', T - 100, { writable: true, timeline: 3 }), peer('node3', T - 100)];
    for (const state of [armed(), initialWatchdogState()]) {
      for (const self of [primary(), primary({ repmgrdPaused: true })]) {
        const r = step(state, obs(self, newer));
        expect(r.decision).toEqual({ action: 'fence', reason: 'node2 accepts writes on timeline 3, newer than this node\'s 2' });
      }
    }
  });

  it('a writable peer on the same or an older timeline: not this node\'s to fence (that one fences itself)', () => {
    for (const timeline of [1, 2]) {
      expect(step(armed(), obs(primary(), [peer('node2', T - 100, { writable: true, timeline }), peer('node3', T - 100)])).decision.action).toBe('none');
    }
  });

  it('a newer writable peer whose answer is older than afterMs does not count', () => {
    const r = step(armed(), obs(primary(), [peer('node2', T - 5000, { writable: true, timeline: 3 }), peer('node3', T - 100)]));
    expect(r.decision.action).toBe('none');
  });
});

describe('watchdogStep on a node that is not a writable primary', () => {
  it('a standby, or PostgreSQL not answering: nothing to fence, whatever the peers', () => {
    for (const self of [standby(), null]) {
      for (const peers of [[peer('node2', null), peer('node3', null)], [peer('node2', T - 100, { writable: true, timeline: 9 }), peer('node3', T)]]) {
        const r = step(armed(), obs(self, peers));
        expect(r.decision.action).toBe('none');
        expect(r.state.fencedAt).toBeNull();
      }
    }
  });
});

describe('watchdogStep after a fence: rejoin when it is safe', () => {
  const fenced = (extra: Partial<WatchdogState> = {}) => armed({ fencedAt: T - 10_000, ...extra });

  it('still cut off: stays down', () => {
    const r = step(fenced(), obs(null, [peer('node2', T - 9000), peer('node3', null)]));
    expect(r.decision).toEqual({ action: 'none', reason: 'fenced; sees 0 of 2 peers, no majority: stays down' });
    expect(r.state.fencedAt).toBe(T - 10_000);
  });

  it('sees a majority and a primary (a standby was promoted): rejoin now, once', () => {
    const r = step(fenced(), obs(null, [peer('node2', T - 100, { writable: true, timeline: 3 }), peer('node3', T - 100)]));
    expect(r.decision).toEqual({ action: 'rejoin', reason: expect.stringMatching(/node2 is the primary: rejoin as its standby/) });
    expect(r.state.fencedAt).toBeNull();
    expect(step(r.state, obs(null, [peer('node2', T - 100, { writable: true, timeline: 3 }), peer('node3', T - 100)])).decision.action).toBe('none');
  });

  it('sees a majority but no primary: waits settleMs (the standbys may be electing one), then rejoins', () => {
    const standbys = [peer('node2', T - 100), peer('node3', T - 100)];
    const first = step(fenced(), obs(null, standbys));
    expect(first.decision.action).toBe('none');
    expect(first.state.majoritySince).toBe(T);
    const before = step(first.state, obs(null, standbys, { now: T + settings.settleMs - 1 }));
    expect(before.decision.action).toBe('none');
    const after = step(first.state, obs(null, [peer('node2', T + 17_000), peer('node3', T + 17_000)], { now: T + settings.settleMs }));
    expect(after.decision).toEqual({ action: 'rejoin', reason: expect.stringMatching(/no peer was promoted: the restart decision runs/) });
    expect(after.state).toEqual({ armedFor: STARTED, fencedAt: null, majoritySince: null });
  });

  it('the majority breaks while waiting: the wait starts over', () => {
    const s = step(fenced({ majoritySince: T - 16_000 }), obs(null, [peer('node2', T - 5000), peer('node3', null)]));
    expect(s.state.majoritySince).toBeNull();
    expect(step(s.state, obs(null, [peer('node2', T), peer('node3', null)], { now: T + 1 })).state.majoritySince).toBe(T + 1);
  });

  it('PostgreSQL accepts writes again (started by hand, or the stop failed): watched as a primary again', () => {
    const r = step(fenced(), obs(primary(), [peer('node2', null), peer('node3', null)]));
    expect(r.decision.action).toBe('none');
    expect(r.state.fencedAt).toBeNull();
    // and the next check fences it again if it still has no majority
    expect(step(r.state, obs(primary(), [peer('node2', null), peer('node3', T - 2000)], { now: T + 250 })).decision.action).toBe('fence');
  });
});

describe('the timing budget: fenced before any standby can be promoted', () => {
  const repmgr = { monitorIntervalSecs: 1, reconnectAttempts: 3, reconnectIntervalSecs: 1 };

  it('earliest promotion: the sleeps between reconnect attempts; latest: each ping waiting out connect_timeout, the consensus and the promote', () => {
    expect(promotionWindowMs(repmgr)).toEqual({ earliestMs: 2000, latestMs: (3 + 3 * 3) * 1000 + 5000 });
    expect(promotionWindowMs({ monitorIntervalSecs: 2, reconnectAttempts: 6, reconnectIntervalSecs: 10 }).earliestMs).toBe(50_000);
  });

  it('the defaults fit: stopped by 1750 ms, a promotion no sooner than 2000 ms', () => {
    expect(fencedWithinMs({ afterMs: 1000, checkEveryMs: 250 })).toBe(1000 + 250 + FENCE_STOP_MS);
    expect(fenceBudgetProblem({ afterMs: 1000, checkEveryMs: 250 }, repmgr)).toBeNull();
  });

  it('too slow a fence is named with the fix', () => {
    const p = fenceBudgetProblem({ afterMs: 1500, checkEveryMs: 250 }, repmgr)!;
    expect(p).toMatch(/stops up to 2250 ms after the cut/);
    expect(p).toMatch(/promoted 2000 ms after losing it/);
    expect(p).toMatch(/lower fencing\.afterMs .* raise repmgr\.reconnectAttempts/);
  });

  it('config check: a fence slower than the earliest promotion is an error on fencing.afterMs', () => {
    const lines = problemsOf(() => resolveConfig(localRaw({ fencing: { afterMs: 3000 } })));
    expect(lines).toEqual([expect.stringMatching(/^fencing\.afterMs: a cut-off primary stops up to 3750 ms .* \(got 3000\)$/)]);
    const fewer = problemsOf(() => resolveConfig(localRaw({ repmgr: { reconnectAttempts: 2 } })));
    expect(fewer).toEqual([expect.stringMatching(/^fencing\.afterMs: .*promoted 1000 ms after losing it/)]);
  });

  it('config check: the budget holds with slower repmgr timings, fencing off, manual failover, or one node', () => {
    expect(resolveConfig(localRaw({ fencing: { afterMs: 3000 }, repmgr: { reconnectAttempts: 5 } })).config.fencing.afterMs).toBe(3000);
    expect(resolveConfig(localRaw({ fencing: { enabled: false }, repmgr: { reconnectAttempts: 1 } })).config.fencing.enabled).toBe(false);
    expect(resolveConfig(localRaw({ fencing: { afterMs: 3000 }, repmgr: { failover: 'manual' } })).config.fencing.afterMs).toBe(3000);
    const one = localRaw({ fencing: { afterMs: 3000 } }) as { nodes: unknown[] };
    one.nodes = [one.nodes[0]];
    expect(resolveConfig(one).config.nodes).toHaveLength(1);
  });

  it('the cross-check also runs when another field is wrong, so every problem shows at once', () => {
    const lines = problemsOf(() => resolveConfig(localRaw({ fencing: { afterMs: 3000 }, postgres: { port: 'x' } })));
    expect(lines.some((l) => l.startsWith('postgres.port:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('fencing.afterMs: a cut-off primary'))).toBe(true);
  });

  it('fencing defaults and PGHA_FENCING_* variables', () => {
    expect(resolveConfig(localRaw()).config.fencing).toEqual({ enabled: true, afterMs: 1000, checkEveryMs: 250 });
    expect(resolveConfig(localRaw(), { PGHA_FENCING_ENABLED: 'false', PGHA_FENCING_AFTER_MS: '800' }).config.fencing).toEqual({ enabled: false, afterMs: 800, checkEveryMs: 250 });
  });
});

describe("backstopStep: repmgrd's backstop fence never stops a primary that a majority still sees (failing input 8)", () => {
  const up = (name: string, extra: Partial<NodeView> = {}): NodeView => ({ name, answeredAt: T, writable: false, timeline: 4, upstream: null, ...extra });
  const gone = (name: string): NodeView => ({ name, answeredAt: null, down: true, error: 'connection refused' });
  const me = up('node2', { writable: true });
  const fresh = { misses: 0, childReads: 0 };

  it('input 8: no standby streams (node3 must be rewound first, node1 is down), node3 answers: watches, never fences', () => {
    let state = fresh;
    for (let i = 0; i < 10; i++) {
      const r = backstopStep(state, 'node2', { nodes: [gone('node1'), me, up('node3', { timeline: 3 })] }, true);
      expect(r.decision.action).toBe('watch');
      expect(r.decision.reason).toMatch(/no standby streams from it, but 2 of 3 nodes answer, a majority: not fenced/);
      state = r.state;
    }
  });

  it('no majority answers: fences on the BACKSTOP_MISSES_TO_FENCE-th read in a row, and a majority seen between starts the count again', () => {
    const alone: ClusterView = { nodes: [gone('node1'), me, gone('node3')] };
    let state = fresh;
    for (let i = 1; i < BACKSTOP_MISSES_TO_FENCE; i++) {
      const r = backstopStep(state, 'node2', alone, true);
      expect(r.decision.action).toBe('watch');
      state = r.state;
      expect(state.misses).toBe(i);
    }
    expect(backstopStep(state, 'node2', { nodes: [gone('node1'), me, up('node3')] }, true).state.misses).toBe(0);
    const last = backstopStep(state, 'node2', alone, true);
    expect(last.decision).toEqual({ action: 'fence', reason: `only 1 of 3 nodes answer (2 needed), ${BACKSTOP_MISSES_TO_FENCE} reads in a row` });
  });

  it('a node on a newer timeline that writes, or streams from someone (a standby of the new primary): fences at once, majority or not', () => {
    expect(backstopStep(fresh, 'node2', { nodes: [up('node1', { writable: true, timeline: 5 }), me, up('node3')] }, true).decision).toEqual({ action: 'fence', reason: "node1 is on timeline 5, newer than this node's 4 and accepts writes" });
    expect(backstopStep(fresh, 'node2', { nodes: [gone('node1'), me, up('node3', { timeline: 5, upstream: 'node1' })] }, true).decision).toEqual({ action: 'fence', reason: "node3 is on timeline 5, newer than this node's 4" });
    // streaming from no one, it may only hold stray WAL of a history that lost: not a reason
    expect(backstopStep(fresh, 'node2', { nodes: [gone('node1'), me, up('node3', { timeline: 5 })] }, true).decision.action).toBe('watch');
  });

  it('a standby streams from it on two reads in a row: done (one read may be the few ms a standby that cannot follow shows as streaming)', () => {
    const streaming: ClusterView = { nodes: [gone('node1'), me, up('node3', { upstream: 'node2' })] };
    const first = backstopStep(fresh, 'node2', streaming, true);
    expect(first.decision.action).toBe('watch');
    expect(backstopStep(first.state, 'node2', streaming, true).decision).toEqual({ action: 'done', reason: 'node3 streams from it again: no fence' });
    // a read between without it starts over
    const between = backstopStep(first.state, 'node2', { nodes: [gone('node1'), me, up('node3')] }, true);
    expect(backstopStep(between.state, 'node2', streaming, true).decision.action).toBe('watch');
  });

  it('done when it is a standby now or its postmaster does not run; a slow own answer (probe timeout, as nodeViewOf reads it) only looks again', () => {
    expect(backstopStep(fresh, 'node2', { nodes: [gone('node1'), up('node2'), gone('node3')] }, true).decision.action).toBe('done');
    expect(backstopStep(fresh, 'node2', { nodes: [gone('node1'), gone('node2'), gone('node3')] }, false).decision).toEqual({ action: 'done', reason: 'PostgreSQL does not run: nothing to fence' });
    // what a probe timeout of its own PostgreSQL looks like: nodeViewOf calls it down
    const slowSelf = nodeViewOf([{ name: 'node2', host: 'h2' }], 'node2', { error: new Error('Query read timeout') }, T);
    expect(slowSelf.down).toBe(true);
    const slow = backstopStep({ misses: 2, childReads: 0 }, 'node2', { nodes: [gone('node1'), slowSelf, gone('node3')] }, true);
    expect(slow).toEqual({ state: { misses: 2, childReads: 0 }, decision: { action: 'watch', reason: 'its own PostgreSQL did not answer (Query read timeout): looking again' } });
  });

  it('property (1 to 7 nodes, any answers): never fences while a majority answers and no node on a newer timeline writes or streams; always fences after enough reads without a majority', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.record({ answers: fc.boolean(), writable: fc.boolean(), streams: fc.boolean(), timeline: fc.integer({ min: 3, max: 5 }) }), { minLength: n, maxLength: n }))),
        fc.integer({ min: 0, max: 5 }),
        ([n, peers], misses) => {
          const nodes: NodeView[] = peers.map((p, i) => (i === 0 ? up('node1', { writable: true }) : p.answers ? up(`node${i + 1}`, { writable: p.writable, timeline: p.timeline, upstream: p.streams && !p.writable ? 'nodeX' : null }) : gone(`node${i + 1}`)));
          const view: ClusterView = { nodes };
          const r = backstopStep({ misses, childReads: 0 }, 'node1', view, true);
          const newer = nodes.some((x, i) => i > 0 && x.answeredAt !== null && (x.writable || x.upstream != null) && (x.timeline ?? 0) > 4);
          if (hasMajority(view) && !newer) expect(r.decision.action).not.toBe('fence');
          if (newer) expect(r.decision.action).toBe('fence');
          if (!hasMajority(view) && !newer) expect(r.decision.action).toBe(misses + 1 >= BACKSTOP_MISSES_TO_FENCE ? 'fence' : 'watch');
          expect(n).toBe(nodes.length);
        },
      ),
      { numRuns: 1000, seed: 9 },
    );
  });
});
