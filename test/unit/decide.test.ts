import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { decideRole as decideRoleIn, firstStartProblem as firstStartProblemIn, type RoleDecision, type SelfView } from '../../src/roles/decide.js';
import type { ClusterView, NodeView } from '../../src/roles/view.js';

/** The cluster view a deciding node reads: itself (its PostgreSQL stopped, so not answering) and its peers. */
const viewOf = (self: string, peers: NodeView[]): ClusterView => ({ nodes: [{ name: self, answeredAt: null }, ...peers] });
const decideRole = (self: SelfView, peers: NodeView[]) => decideRoleIn(self, viewOf(self.name, peers));
const firstStartProblem = (self: string, peers: NodeView[]) => firstStartProblemIn(self, viewOf(self, peers));

// ---- fixtures -------------------------------------------------------------------------------

const wasPrimary = (timeline = 2, name = 'node1'): SelfView => ({ name, wasStandby: false, timeline });
const wasStandby = (timeline = 2, name = 'node1'): SelfView => ({ name, wasStandby: true, timeline });

const primaryPeer = (name: string, timeline = 2, extra: Partial<NodeView> = {}): NodeView => ({
  name,
  answeredAt: 1,
  writable: true,
  timeline,
  repmgrPrimaries: [name],
  ...extra,
});
const standbyPeer = (name: string, timeline = 2, extra: Partial<NodeView> = {}): NodeView => ({
  name,
  answeredAt: 1,
  writable: false,
  timeline,
  repmgrPrimaries: [],
  ...extra,
});
const downPeer = (name: string, extra: Partial<NodeView> = {}): NodeView => ({
  name,
  answeredAt: null,
  error: 'connect ECONNREFUSED',
  ...extra,
});

/** Narrow a decision to one action (fails the test otherwise). */
function expectAction<A extends RoleDecision['action']>(d: RoleDecision, action: A): Extract<RoleDecision, { action: A }> {
  expect(d.action).toBe(action);
  return d as Extract<RoleDecision, { action: A }>;
}

// ---- was a standby --------------------------------------------------------------------------

describe('decideRole: the node was a standby', () => {
  it('one reachable primary: start as its standby, upstream that primary', () => {
    const d = expectAction(decideRole(wasStandby(), [primaryPeer('node2', 4), standbyPeer('node3', 4)]), 'start-standby');
    expect(d.upstream).toBe('node2');
    expect(d.reason).toContain('was a standby');
    expect(d.reason).toContain('node2 is the primary (timeline 4)');
  });

  it('the primary is found wherever it sits among the peers', () => {
    const d = expectAction(decideRole(wasStandby(), [standbyPeer('node2'), downPeer('node4'), primaryPeer('node3')]), 'start-standby');
    expect(d.upstream).toBe('node3');
  });

  it('a primary whose timeline is unknown: still followed, reason shows "?"', () => {
    const d = expectAction(decideRole(wasStandby(), [primaryPeer('node2', 2, { timeline: null })]), 'start-standby');
    expect(d.upstream).toBe('node2');
    expect(d.reason).toContain('(timeline ?)');
  });

  it('every peer down: start read-only without upstream, naming the unreachable peers', () => {
    const d = expectAction(decideRole(wasStandby(), [downPeer('node2'), downPeer('node3')]), 'start-standby');
    expect(d.upstream).toBeNull();
    expect(d.reason).toContain('no primary reachable');
    expect(d.reason).toContain('unreachable: node2, node3');
    expect(d.reason).toContain('waits read-only');
  });

  it('every peer a standby: start read-only without upstream', () => {
    const d = expectAction(decideRole(wasStandby(), [standbyPeer('node2'), standbyPeer('node3')]), 'start-standby');
    expect(d.upstream).toBeNull();
    expect(d.reason).toContain('every peer is a standby');
    expect(d.reason).not.toContain('unreachable');
  });

  it('no peers at all (one-node cluster): still a standby, never promotes itself', () => {
    const d = expectAction(decideRole(wasStandby(), []), 'start-standby');
    expect(d.upstream).toBeNull();
  });

  it('a down peer that last said it was primary is not an upstream', () => {
    const d = expectAction(decideRole(wasStandby(), [downPeer('node2', { writable: true, timeline: 9 }), standbyPeer('node3')]), 'start-standby');
    expect(d.upstream).toBeNull();
    expect(d.reason).toContain('unreachable: node2');
  });

  it('peers on newer timelines or metadata naming others do not stop a standby', () => {
    const d = decideRole(wasStandby(1), [standbyPeer('node2', 7, { repmgrPrimaries: ['node9'] })]);
    expect(d).toMatchObject({ action: 'start-standby', upstream: null });
  });

  it('two reachable primaries: refuse (it would not know which to follow)', () => {
    const d = expectAction(decideRole(wasStandby(), [primaryPeer('node2', 3), primaryPeer('node3', 4)]), 'refuse');
    expect(d.reason).toContain('node2, node3 all accept writes');
    expect(d.reason).toContain('two primaries');
    expect(d).not.toHaveProperty('upstream');
  });
});

// ---- was the primary ------------------------------------------------------------------------

describe('decideRole: the node was the primary, another node is primary now', () => {
  it('a reachable peer is primary: rejoin it', () => {
    const d = expectAction(decideRole(wasPrimary(2), [primaryPeer('node2', 3), standbyPeer('node3', 3)]), 'rejoin');
    expect(d.primary).toBe('node2');
    expect(d.reason).toContain('was the primary on timeline 2');
    expect(d.reason).toContain('node2 is now the primary (timeline 3)');
    expect(d.reason).toContain('rejoin as its standby');
  });

  it('rejoins even without a majority: the primary is known, so it only follows', () => {
    const d = expectAction(decideRole(wasPrimary(2), [primaryPeer('node2', 3), downPeer('node3'), downPeer('node4'), downPeer('node5')]), 'rejoin');
    expect(d.primary).toBe('node2');
  });

  it('rejoins a primary on the same timeline too (it never starts writable beside one)', () => {
    const d = expectAction(decideRole(wasPrimary(5), [primaryPeer('node3', 5)]), 'rejoin');
    expect(d.primary).toBe('node3');
  });

  it('two reachable primaries: refuse, naming both', () => {
    const d = expectAction(decideRole(wasPrimary(2), [primaryPeer('node2', 3), primaryPeer('node3', 3)]), 'refuse');
    expect(d.reason).toContain('node2, node3 all accept writes');
    expect(d.reason).toContain('already has two primaries');
  });
});

describe('decideRole: the node was the primary, no primary is reachable', () => {
  it('a reachable peer on a newer timeline: refuse, a failover happened', () => {
    const d = expectAction(decideRole(wasPrimary(2), [standbyPeer('node2', 3), standbyPeer('node3', 2)]), 'refuse');
    expect(d.reason).toContain('was the primary on timeline 2');
    expect(d.reason).toContain('node2 is on timeline 3');
    expect(d.reason).not.toContain('node3 is on timeline');
    expect(d.reason).toContain('failover happened');
    expect(d.reason).toContain('pgha failover --to NODE');
  });

  it('names every peer on a newer timeline', () => {
    const d = expectAction(decideRole(wasPrimary(1), [standbyPeer('node2', 2), standbyPeer('node3', 5)]), 'refuse');
    expect(d.reason).toContain('node2 is on timeline 2, node3 is on timeline 5');
  });

  it('a newer timeline refuses even with every peer reachable and metadata naming self', () => {
    const d = decideRole(wasPrimary(2), [standbyPeer('node2', 3, { repmgrPrimaries: ['node1'] }), standbyPeer('node3', 2, { repmgrPrimaries: ['node1'] })]);
    expect(d.action).toBe('refuse');
    expect(d.reason).toContain('failover happened');
  });

  it('peers on an older or equal timeline do not block', () => {
    expect(decideRole(wasPrimary(3), [standbyPeer('node2', 2), standbyPeer('node3', 3)]).action).toBe('start-primary');
    expect(decideRole(wasPrimary(3), [standbyPeer('node2', 1), standbyPeer('node3', 1)]).action).toBe('start-primary');
    expect(decideRole(wasPrimary(3), [standbyPeer('node2', 3), standbyPeer('node3', 3)]).action).toBe('start-primary');
  });

  it('a peer with an unknown timeline does not count as newer', () => {
    expect(decideRole(wasPrimary(3), [standbyPeer('node2', 3, { timeline: null }), standbyPeer('node3', 3, { timeline: undefined })]).action).toBe(
      'start-primary',
    );
  });

  it('an unreachable peer on a newer timeline (stale view) does not count', () => {
    const d = decideRole(wasPrimary(2), [standbyPeer('node2', 2), downPeer('node3', { timeline: 9 })]);
    expect(d.action).toBe('start-primary');
  });

  it("repmgr metadata on a peer naming another node as primary: refuse, quoting who names whom", () => {
    const d = expectAction(decideRole(wasPrimary(2), [standbyPeer('node2', 2, { repmgrPrimaries: ['node3'] }), standbyPeer('node3', 2)]), 'refuse');
    expect(d.reason).toContain("repmgr's metadata disagrees");
    expect(d.reason).toContain('node2 names node3');
    expect(d.reason).toContain('not reachable as a primary');
  });

  it('metadata naming self and another: the other one still refuses', () => {
    const d = expectAction(decideRole(wasPrimary(2), [standbyPeer('node2', 2, { repmgrPrimaries: ['node1', 'node3'] }), standbyPeer('node3', 2)]), 'refuse');
    expect(d.reason).toContain('node2 names node3');
    expect(d.reason).not.toContain('names node1');
  });

  it('metadata naming self is fine', () => {
    const d = decideRole(wasPrimary(2), [standbyPeer('node2', 2, { repmgrPrimaries: ['node1'] }), standbyPeer('node3', 2, { repmgrPrimaries: ['node1'] })]);
    expect(d.action).toBe('start-primary');
  });

  it('metadata on an unreachable peer is ignored', () => {
    const d = decideRole(wasPrimary(2), [standbyPeer('node2', 2), downPeer('node3', { repmgrPrimaries: ['node3'] })]);
    expect(d.action).toBe('start-primary');
  });

  it('a down peer that last said it accepted writes is not a primary', () => {
    const d = decideRole(wasPrimary(2), [standbyPeer('node2', 2), downPeer('node3', { writable: true })]);
    expect(d.action).toBe('start-primary');
  });
});

describe('decideRole: the majority rule for a node that was the primary', () => {
  const peersOf = (reachable: number, down: number) => [
    ...Array.from({ length: reachable }, (_, i) => standbyPeer(`up${i + 1}`, 2)),
    ...Array.from({ length: down }, (_, i) => downPeer(`down${i + 1}`)),
  ];

  it('cluster of 1 (no peers): start-primary', () => {
    const d = expectAction(decideRole(wasPrimary(2), []), 'start-primary');
    expect(d.reason).toContain('was the primary on timeline 2');
    expect(d.reason).toContain('0 of 0 peers answer');
  });

  it('cluster of 2, the peer unreachable: refuse (1 of 2 is no majority)', () => {
    const d = expectAction(decideRole(wasPrimary(2), peersOf(0, 1)), 'refuse');
    expect(d.reason).toContain('only 0 of 1 peers answer');
    expect(d.reason).toContain('unreachable: down1');
    expect(d.reason).toContain('without a majority');
  });

  it('cluster of 2, the peer reachable: start-primary', () => {
    const d = expectAction(decideRole(wasPrimary(2), peersOf(1, 0)), 'start-primary');
    expect(d.reason).toContain('1 of 1 peers answer');
    expect(d.reason).toContain('none is a primary or on a newer timeline');
  });

  it('cluster of 3, 0 of 2 peers reachable: refuse', () => {
    const d = expectAction(decideRole(wasPrimary(2), peersOf(0, 2)), 'refuse');
    expect(d.reason).toContain('only 0 of 2 peers answer');
    expect(d.reason).toContain('unreachable: down1, down2');
  });

  it('cluster of 3, 1 of 2 peers reachable: start-primary', () => {
    const d = expectAction(decideRole(wasPrimary(2), peersOf(1, 1)), 'start-primary');
    expect(d.reason).toContain('1 of 2 peers answer');
  });

  it('cluster of 3, 2 of 2 peers reachable: start-primary', () => {
    expect(decideRole(wasPrimary(2), peersOf(2, 0)).action).toBe('start-primary');
  });

  it('cluster of 4, 1 of 3 reachable: refuse (2 of 4 is not a strict majority); 2 of 3: start', () => {
    expect(expectAction(decideRole(wasPrimary(2), peersOf(1, 2)), 'refuse').reason).toContain('only 1 of 3 peers answer');
    expect(decideRole(wasPrimary(2), peersOf(2, 1)).action).toBe('start-primary');
  });

  it('cluster of 5, 1 of 4 reachable: refuse', () => {
    const d = expectAction(decideRole(wasPrimary(2), peersOf(1, 3)), 'refuse');
    expect(d.reason).toContain('only 1 of 4 peers answer');
    expect(d.reason).toContain('unreachable: down1, down2, down3');
  });

  it('cluster of 5, 2 of 4 reachable: start-primary', () => {
    const d = expectAction(decideRole(wasPrimary(2), peersOf(2, 2)), 'start-primary');
    expect(d.reason).toContain('2 of 4 peers answer');
  });

  it('the majority check comes after the other checks: a newer timeline is reported even without a majority', () => {
    const d = expectAction(decideRole(wasPrimary(2), [standbyPeer('node2', 3), downPeer('node3'), downPeer('node4')]), 'refuse');
    expect(d.reason).toContain('failover happened');
  });
});

// ---- properties (fast-check, seeded: a failure is reproducible and shrunk to a small case) -----

describe('decideRole: random peer states (fast-check properties)', () => {
  const RUNS = 2000;

  /** A deciding node (a former standby or primary, timeline 1..4) and the peers of a 1..7-node cluster. */
  const caseArb = fc
    .record({ wasStandby: fc.boolean(), selfTimeline: fc.integer({ min: 1, max: 4 }), size: fc.integer({ min: 1, max: 7 }) })
    .chain(({ wasStandby, selfTimeline, size }) => {
      const names = Array.from({ length: size - 1 }, (_, i) => `p${i + 1}`);
      const peer = (name: string) =>
        fc
          .record({
            answers: fc.integer({ min: 0, max: 99 }).map((x) => x < 65),
            // primaries are rare, so the "no primary" branches get exercised
            writable: fc.constantFrom<boolean | undefined>(false, false, false, false, true, undefined),
            timeline: fc.constantFrom<number | null | undefined>(selfTimeline - 1, selfTimeline, selfTimeline, selfTimeline, selfTimeline + 1, null, undefined),
            meta: fc.oneof(
              fc.constantFrom<string[] | undefined>(undefined, [], [], ['self'], ['self']),
              fc.constantFrom('self', ...names, 'ghost').map((n) => [n]),
            ),
          })
          .map(({ answers, writable, timeline, meta }): NodeView => ({
            name,
            answeredAt: answers ? 1 : null,
            writable,
            timeline,
            ...(meta !== undefined ? { repmgrPrimaries: meta } : {}),
            ...(answers ? {} : { error: 'down' }),
          }));
      return fc.tuple(...names.map(peer)).map((peers) => ({ self: { name: 'self', wasStandby, timeline: selfTimeline } as SelfView, peers: peers as NodeView[] }));
    });

  /** The decision's kind, after checking it against the rules; throws (with the case) on a violation. */
  function checked({ self, peers }: { self: SelfView; peers: NodeView[] }): string {
    const d = decideRole(self, structuredClone(peers));
    const ctx = JSON.stringify({ self, peers, d });
    const reachable = peers.filter((p) => p.answeredAt !== null);
    const primaries = reachable.filter((p) => p.writable === true);
    const newer = reachable.filter((p) => typeof p.timeline === 'number' && p.timeline > self.timeline);
    const metaOther = reachable.some((p) => (p.repmgrPrimaries ?? []).some((n) => n !== self.name));
    const majority = (reachable.length + 1) * 2 > peers.length + 1;
    // every decision has a reason
    if (!d.reason) throw new Error(`empty reason: ${ctx}`);
    const tag = `${self.wasStandby ? 'standby' : 'primary'}:${d.action}`;
    if (self.wasStandby) {
      // a standby never starts writable
      if (d.action === 'start-primary' || d.action === 'rejoin') throw new Error(`standby got ${d.action}: ${ctx}`);
      if (primaries.length > 1) {
        if (d.action !== 'refuse') throw new Error(`two primaries but ${d.action}: ${ctx}`);
      } else {
        if (d.action !== 'start-standby') throw new Error(`expected start-standby: ${ctx}`);
        if (d.upstream !== (primaries[0]?.name ?? null)) throw new Error(`wrong upstream: ${ctx}`);
      }
      return tag;
    }
    const safe = primaries.length === 0 && newer.length === 0 && !metaOther && majority;
    if (d.action === 'start-primary') {
      // the safety property: only with no reachable writable peer, no newer timeline, a strict majority
      if (primaries.length !== 0) throw new Error(`start-primary beside a reachable primary: ${ctx}`);
      if (newer.length !== 0) throw new Error(`start-primary behind a newer timeline: ${ctx}`);
      if (!majority) throw new Error(`start-primary without a majority: ${ctx}`);
      if (metaOther) throw new Error(`start-primary while repmgr names another primary: ${ctx}`);
    }
    // and liveness: when all of it holds, it does start
    if (safe && d.action !== 'start-primary') throw new Error(`safe but ${d.action}: ${ctx}`);
    if (d.action === 'start-standby') throw new Error(`a former primary got start-standby: ${ctx}`);
    if (d.action === 'rejoin') {
      if (primaries.length !== 1 || d.primary !== primaries[0].name) throw new Error(`rejoin of the wrong node: ${ctx}`);
    } else if (primaries.length === 1) {
      throw new Error(`one reachable primary but ${d.action}: ${ctx}`);
    }
    return tag;
  }

  it(`start-primary only when it is provably safe, and always then (${RUNS} cases)`, () => {
    fc.assert(fc.property(caseArb, (c) => void checked(c)), { numRuns: RUNS, seed: 0x5eed1234 });
  });

  it('the cases reach every branch, so the property is really exercised', () => {
    const seen = new Map<string, number>();
    for (const c of fc.sample(caseArb, { numRuns: RUNS, seed: 0x5eed1234 })) {
      const tag = checked(c);
      seen.set(tag, (seen.get(tag) ?? 0) + 1);
    }
    for (const tag of ['standby:start-standby', 'standby:refuse', 'primary:start-primary', 'primary:refuse', 'primary:rejoin']) {
      expect(seen.get(tag) ?? 0).toBeGreaterThan(20);
    }
  });

  it('refusals of a former primary cover each reason (timeline, metadata, majority, two primaries)', () => {
    const kinds = new Set<string>();
    for (const { self, peers } of fc.sample(caseArb, { numRuns: RUNS, seed: 42 })) {
      if (self.wasStandby) continue;
      const d = decideRole(self, peers);
      if (d.action !== 'refuse') continue;
      if (d.reason.includes('failover happened')) kinds.add('timeline');
      else if (d.reason.includes('metadata disagrees')) kinds.add('metadata');
      else if (d.reason.includes('without a majority')) kinds.add('majority');
      else if (d.reason.includes('all accept writes')) kinds.add('two-primaries');
      else throw new Error(`unexpected refusal: ${d.reason}`);
    }
    expect([...kinds].sort()).toEqual(['majority', 'metadata', 'timeline', 'two-primaries']);
  });

  it('does not mutate its inputs and is deterministic', () => {
    fc.assert(
      fc.property(caseArb, ({ self, peers }) => {
        const before = structuredClone({ self, peers });
        const a = decideRole(self, peers);
        expect({ self, peers }).toEqual(before);
        expect(decideRole(self, peers)).toEqual(a);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe('firstStartProblem: the master may initdb only when no cluster exists', () => {
  it('a fresh cluster (every peer down, or up with no repmgr metadata): allowed', () => {
    expect(firstStartProblem('node1', [downPeer('node2'), downPeer('node3')])).toBeNull();
    expect(firstStartProblem('node1', [standbyPeer('node2', 1, { repmgrPrimaries: [] }), downPeer('node3')])).toBeNull();
  });

  it('a peer accepts writes (the failing input: an interrupted re-clone ran the primary first start): refused, naming it', () => {
    expect(firstStartProblem('node1', [primaryPeer('node2', 4), standbyPeer('node3', 4)])).toMatch(/^node2 already accepts writes: .*initdb an empty primary/);
  });

  it("a peer's repmgr metadata names a primary although none answers: refused", () => {
    expect(firstStartProblem('node1', [standbyPeer('node2', 4, { repmgrPrimaries: ['node3'] }), downPeer('node3')])).toContain('node2 names node3');
  });
});
