import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { answered, hasMajority, lagBytesOf, majorityOf, majorityPrimary, roleOf, writableNodes, type ClusterView, type NodeView } from '../../src/roles/view.js';
import { decideRole, firstStartProblem } from '../../src/roles/decide.js';
import { decidePromotion, electAfterResume, repmgrdGaveUpAfterSecs } from '../../src/roles/promotion.js';

// a random cluster of 1 to 7 nodes (even sizes included): each node answered or not, writable or not
const nodeArb = (name: string) =>
  fc
    .record({
      answered: fc.boolean(),
      writable: fc.constantFrom(false, false, false, true),
      timeline: fc.integer({ min: 1, max: 4 }),
      lsn: fc.bigInt({ min: 0n, max: 1000n }),
      repmgrPrimaries: fc.constantFrom<string[]>([], [], ['node1'], ['node2'], ['ghost']),
    })
    .map((x): NodeView => (x.answered ? { name, answeredAt: 1, writable: x.writable, timeline: x.timeline, lsn: x.lsn, replayLsn: x.lsn, repmgrPrimaries: x.repmgrPrimaries } : { name, answeredAt: null, down: true }));
const viewArb = fc.integer({ min: 1, max: 7 }).chain((size) => fc.tuple(...Array.from({ length: size }, (_, i) => nodeArb(`node${i + 1}`))).map((nodes): ClusterView => ({ nodes })));

describe('hasMajority: the one majority test', () => {
  it('property: two disjoint groups of one cluster never both have a majority (odd and even sizes); a split in halves has none', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }).chain((size) => fc.tuple(fc.constant(size), fc.array(fc.constantFrom<'a' | 'b' | 'none'>('a', 'b', 'none'), { minLength: size, maxLength: size }))), ([size, sides]) => {
        const view: ClusterView = { nodes: sides.map((_, i) => ({ name: `n${i}`, answeredAt: 1 })) };
        const a = hasMajority(view, (n) => sides[Number(n.name.slice(1))] === 'a');
        const b = hasMajority(view, (n) => sides[Number(n.name.slice(1))] === 'b');
        expect(a && b).toBe(false);
        if (size % 2 === 0 && sides.filter((s) => s === 'a').length === size / 2) expect(a).toBe(false);
      }),
    );
  });

  it('counts answers by default: 2 of 3, 3 of 4, 3 of 5', () => {
    const view = (size: number, up: number): ClusterView => ({ nodes: Array.from({ length: size }, (_, i) => ({ name: `n${i}`, answeredAt: i < up ? 1 : null })) });
    expect([hasMajority(view(3, 2)), hasMajority(view(3, 1)), hasMajority(view(4, 2)), hasMajority(view(4, 3)), hasMajority(view(5, 3))]).toEqual([true, false, false, true, true]);
    expect(majorityOf(4)).toBe(3);
  });
});

describe('majorityPrimary, roleOf, lagBytesOf', () => {
  it('property: a primary only when exactly one answered node is writable and a majority answered; the table calls only that node primary', () => {
    fc.assert(
      fc.property(viewArb, (view) => {
        const writable = writableNodes(view);
        const p = majorityPrimary(view);
        expect(p !== null).toBe(writable.length === 1 && view.nodes.filter(answered).length >= majorityOf(view.nodes.length));
        for (const n of view.nodes) {
          const role = roleOf(view, n.name);
          expect(role === 'primary').toBe(writable.length === 1 && writable[0].name === n.name);
          expect(role === 'standby').toBe(answered(n) && !n.writable);
          if (role === 'primary') expect(lagBytesOf(view, n.name)).toBe(0);
          if (role === 'down' || role === 'unknown') expect(lagBytesOf(view, n.name)).toBeNull();
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the rules on one view (properties, 1 to 7 nodes)', () => {
  it('decideRole: a former primary starts writable only beside no answering writable node, no newer timeline, no metadata naming another node, with a majority counting itself', () => {
    fc.assert(
      fc.property(viewArb, fc.integer({ min: 1, max: 4 }), fc.boolean(), (view, timeline, wasStandby) => {
        const self = view.nodes[0].name;
        // the deciding node's PostgreSQL is stopped: its own entry did not answer
        const v: ClusterView = { nodes: [{ name: self, answeredAt: null }, ...view.nodes.slice(1)] };
        const d = decideRole({ name: self, wasStandby, timeline }, v);
        const peers = v.nodes.slice(1).filter(answered);
        if (wasStandby) expect(['start-standby', 'refuse']).toContain(d.action);
        if (d.action === 'start-primary') {
          expect(wasStandby).toBe(false);
          expect(peers.some((p) => p.writable)).toBe(false);
          expect(peers.some((p) => (p.timeline ?? 0) > timeline)).toBe(false);
          expect(peers.some((p) => (p.repmgrPrimaries ?? []).some((n) => n !== self))).toBe(false);
          expect((peers.length + 1) * 2).toBeGreaterThan(v.nodes.length);
        }
        if (d.action === 'rejoin') expect(peers.filter((p) => p.writable).map((p) => p.name)).toEqual([d.primary]);
      }),
      { numRuns: 2000 },
    );
  });

  it('firstStartProblem: allowed exactly when no answering peer accepts writes and no peer\'s metadata names a primary', () => {
    fc.assert(
      fc.property(viewArb, (view) => {
        const self = view.nodes[0].name;
        const peers = view.nodes.slice(1).filter(answered);
        const allowed = !peers.some((p) => p.writable) && !peers.some((p) => (p.repmgrPrimaries ?? []).length > 0);
        expect(firstStartProblem(self, view) === null).toBe(allowed);
      }),
      { numRuns: 1000 },
    );
  });

  it('decidePromotion: an unforced promotion is of an answering standby, beside no writable node, with a majority answering, and no answering node ahead of it', () => {
    fc.assert(
      fc.property(viewArb, fc.nat(6), fc.boolean(), (view, i, force) => {
        const candidate = view.nodes[i % view.nodes.length];
        const d = decidePromotion(candidate.name, view, { force });
        if (!d.ok) return;
        expect(answered(candidate) && !candidate.writable).toBe(true);
        expect(writableNodes(view)).toEqual([]);
        if (d.forced) return;
        expect(hasMajority(view)).toBe(true);
        for (const n of view.nodes.filter(answered)) {
          const ahead = (n.timeline ?? 0) > (candidate.timeline ?? 0) || ((n.timeline ?? 0) === (candidate.timeline ?? 0) && (n.lsn ?? -1n) > (candidate.lsn ?? -1n));
          expect(ahead).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('electAfterResume: pgha elects once repmgrd, unpaused, will not', () => {
  const GAVE_UP = repmgrdGaveUpAfterSecs({ reconnectAttempts: 3, reconnectIntervalSecs: 1, monitorIntervalSecs: 1 });
  const standby = (name: string, lsn: bigint, seen: number): NodeView => ({ name, answeredAt: 1, writable: false, timeline: 1, lsn, replayLsn: lsn, upstreamLastSeenSecs: seen });
  const dead: NodeView = { name: 'node1', answeredAt: null, down: true, refused: true };

  it('the primary died while paused: the most advanced standby the promotion rule accepts, once every repmgrd has had its window', () => {
    expect(GAVE_UP).toBe(15);
    const view = { nodes: [dead, standby('node2', 100n, GAVE_UP), standby('node3', 90n, GAVE_UP + 4)] };
    expect(electAfterResume(view, GAVE_UP)).toMatchObject({ action: 'promote', node: 'node2', reason: expect.stringMatching(/^no primary, and no repmgrd elects one .*: node2 is the most advanced of the 2 of 3 nodes/) });
  });

  it('waits while a repmgrd may still hold its own election; nothing beside a writable node, without a majority, or with no standby', () => {
    expect(electAfterResume({ nodes: [dead, standby('node2', 100n, GAVE_UP - 1), standby('node3', 100n, GAVE_UP)] }, GAVE_UP)).toMatchObject({ action: 'wait', reason: expect.stringContaining("node2's repmgrd saw its upstream 14 s ago") });
    expect(electAfterResume({ nodes: [{ name: 'node1', answeredAt: 1, writable: true, timeline: 1, lsn: 100n }, standby('node2', 100n, 99), standby('node3', 100n, 99)] }, GAVE_UP)).toMatchObject({ action: 'none', reason: 'node1 takes writes: no election' });
    expect(electAfterResume({ nodes: [dead, { ...dead, name: 'node2' }, standby('node3', 100n, 99)] }, GAVE_UP)).toMatchObject({ action: 'none', reason: expect.stringMatching(/the promotion rule accepts no standby: only 1 of 3 nodes answer/) });
    expect(electAfterResume({ nodes: [dead, { ...dead, name: 'node2' }] }, GAVE_UP).action).toBe('none');
    // a repmgrd that does not say when it last saw its upstream (-1: restarted, or none yet) may be starting an election
    expect(electAfterResume({ nodes: [dead, standby('node2', 100n, -1), standby('node3', 100n, GAVE_UP)] }, GAVE_UP)).toMatchObject({ action: 'wait', reason: expect.stringContaining("node2's repmgrd has not said") });
  });

  it('a silent node (timed out, not refused) may be a cut-off primary that was never fenced while paused: no election (review finding 1)', () => {
    const cut: NodeView = { name: 'node1', answeredAt: null, down: true, error: 'timeout expired' };
    expect(electAfterResume({ nodes: [cut, standby('node2', 100n, 99), standby('node3', 100n, 99)] }, GAVE_UP)).toEqual({
      action: 'none',
      reason: 'node1 does not answer (no refusal either): it may be a primary cut off from the others, never fenced while paused; pgha does not elect. Make sure it is stopped, then pgha failover --to a standby',
    });
  });

  it('property: a promotion only of a node the promotion rule accepts unforced, beside no writable node, and never while a repmgrd is inside its window', () => {
    fc.assert(
      fc.property(viewArb, fc.array(fc.integer({ min: -1, max: 40 }), { minLength: 7, maxLength: 7 }), fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }), (view, seen, refused) => {
        const v = { nodes: view.nodes.map((n, i) => (answered(n) ? { ...n, upstreamLastSeenSecs: seen[i] } : { ...n, refused: refused[i] })) };
        const d = electAfterResume(v, GAVE_UP);
        if (d.action !== 'promote') return;
        expect(decidePromotion(d.node, v)).toMatchObject({ ok: true, forced: false });
        expect(writableNodes(v)).toEqual([]);
        for (const n of v.nodes.filter((x) => answered(x) && !x.writable)) expect(n.upstreamLastSeenSecs! >= GAVE_UP).toBe(true);
        for (const n of v.nodes.filter((x) => !answered(x))) expect(n.refused).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
