import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { decideFailover, decidePromotion, detectorSettings, type DetectorObservation, type DetectorSettings } from '../../src/roles/promotion.js';
import { busyHoldEndsMs, FENCE_STOP_MS, fencedWithinMs, promotionWindowMs } from '../../src/roles/fence.js';
import { localConfig } from './helpers.js';
import type { ClusterView, NodeView } from '../../src/roles/view.js';

const S: DetectorSettings = { silentMs: 2000, refusedMs: 250, freshMs: 750, consensusSecs: 2, priorities: {} };
const NOW = 100_000;
const standby = (name: string, x: Partial<NodeView> = {}): NodeView => ({ name, answeredAt: NOW - 100, writable: false, timeline: 1, lsn: 500n, replayLsn: 500n, upstream: null, repmgrdPaused: false, upstreamLastSeenSecs: 3, ...x });
// node1 was the primary: its latest answer (writable) is old
const oldPrimary = (x: Partial<NodeView> = {}): NodeView => ({ name: 'node1', answeredAt: NOW - 3000, writable: true, timeline: 1, lsn: 500n, ...x });
const obs = (nodes: NodeView[], silent: number | null, refused: number | null = null, self = 'node2'): DetectorObservation => ({
  now: NOW,
  self,
  view: { nodes },
  silentSince: { node1: silent },
  refusedSince: { node1: refused },
});

describe('decideFailover: the node workers promote a lost primary under the promotion rule', () => {
  it('a killed primary (refused for refusedMs, sibling no longer streams): the first of two equal standbys promotes at once, the other does not', () => {
    const nodes = [oldPrimary(), standby('node2'), standby('node3')];
    const d = decideFailover(obs(nodes, NOW - 600, NOW - 300), S);
    expect(d).toMatchObject({ action: 'promote', node: 'node2', primary: 'node1', timeline: 1, followers: ['node3'] });
    expect(d.reason).toMatch(/node1 refused connections for 300 ms: node2 is the most advanced/);
    expect(decideFailover(obs(nodes, NOW - 600, NOW - 300, 'node3'), S)).toEqual({ action: 'none', reason: 'node1 refused connections for 300 ms: node2 is the candidate; its worker promotes it' });
  });

  it('a refusing primary whose last answer is recent (an orphan backend of the killed postmaster answered a kept connection): the refusal decides', () => {
    const nodes = [oldPrimary({ answeredAt: NOW - 400 }), standby('node2'), standby('node3')];
    expect(decideFailover(obs(nodes, NOW - 300, NOW - 260), S)).toMatchObject({ action: 'promote', node: 'node2' });
    // answered at its latest probe: it is there
    expect(decideFailover(obs(nodes, null, null), S)).toMatchObject({ action: 'none', reason: 'node1 is the primary and answers' });
  });

  it('refused for less than refusedMs, or silent (no refusal) for less than silentMs: waits', () => {
    const nodes = [oldPrimary(), standby('node2'), standby('node3')];
    expect(decideFailover(obs(nodes, NOW - 200, NOW - 200), S)).toMatchObject({ action: 'wait', reason: expect.stringMatching(/200 ms \(refused\): gives it 250 ms/) });
    expect(decideFailover(obs(nodes, NOW - 1999), S)).toMatchObject({ action: 'wait', reason: expect.stringMatching(/1999 ms: gives it 2000 ms/) });
    expect(decideFailover(obs(nodes, NOW - 2000), S)).toMatchObject({ action: 'promote', node: 'node2' });
  });

  it('a cut primary: a sibling that still streams from it waits for its repmgrd to have missed it consensusSecs (or not said)', () => {
    const seeing = (secs: number) => [oldPrimary(), standby('node2'), standby('node3', { upstream: 'node1', upstreamLastSeenSecs: secs })];
    expect(decideFailover(obs(seeing(1), NOW - 2500), S)).toMatchObject({ action: 'wait', reason: expect.stringMatching(/node3 still streams from it and its repmgrd saw it 1 s ago: it may be lost to node2 only/) });
    expect(decideFailover(obs(seeing(-1), NOW - 2500), S)).toMatchObject({ action: 'wait', reason: expect.stringMatching(/does not say when/) });
    expect(decideFailover(obs(seeing(2), NOW - 2500), S)).toMatchObject({ action: 'promote', node: 'node2', followers: ['node3'] });
  });

  it('a primary that went silent while paused (its watchdog does not fence then): never promoted on silence; a refusal still proves it stopped', () => {
    const nodes = [oldPrimary({ repmgrdPaused: true }), standby('node2'), standby('node3')];
    expect(decideFailover(obs(nodes, NOW - 60_000), S)).toMatchObject({ action: 'none', reason: expect.stringMatching(/went silent while repmgrd was paused.*only a refusal proves it stopped/) });
    expect(decideFailover(obs(nodes, NOW - 600, NOW - 300), S)).toMatchObject({ action: 'promote', node: 'node2' });
  });

  it('after one failover, the old primary still down keeps its last answer (writable, older timeline): the newest writable one is the primary; two on one timeline: nothing', () => {
    // five nodes: node1 (the first primary) is still down; node3, promoted after it, dies too; three standbys answer
    const nodes = [oldPrimary({ answeredAt: NOW - 60_000 }), standby('node2', { timeline: 2 }), { ...standby('node3', { timeline: 2 }), writable: true, answeredAt: NOW - 3000 }, standby('node4', { timeline: 2 }), standby('node5', { timeline: 2 })];
    const o: DetectorObservation = { now: NOW, self: 'node2', view: { nodes }, silentSince: { node1: NOW - 59_000, node3: NOW - 600 }, refusedSince: { node1: NOW - 59_000, node3: NOW - 300 } };
    expect(decideFailover(o, S)).toMatchObject({ action: 'promote', node: 'node2', primary: 'node3' });
    const same = nodes.map((n) => (n.name === 'node1' ? { ...n, timeline: 2 } : n));
    expect(decideFailover({ ...o, view: { nodes: same } }, S)).toMatchObject({ action: 'none', reason: expect.stringMatching(/node1 and node3 were each last seen writable on timeline 2/) });
  });

  it('a primary whose latest answer was slow may have been cut that much after the probe left: silence needs that much more', () => {
    const nodes = [oldPrimary(), standby('node2'), standby('node3')];
    expect(decideFailover({ ...obs(nodes, NOW - 2600), latencyMs: { node1: 1750 } }, S)).toMatchObject({ action: 'wait', reason: expect.stringMatching(/gives it 3000 ms/) });
    expect(decideFailover({ ...obs(nodes, NOW - 3000), latencyMs: { node1: 1750 } }, S)).toMatchObject({ action: 'promote' });
    expect(decideFailover({ ...obs(nodes, NOW - 2000), latencyMs: { node1: 20 } }, S)).toMatchObject({ action: 'promote' });
  });

  it('a busy machine (own answer late), a paused repmgrd, a primary that answers, no primary seen: nothing', () => {
    expect(decideFailover(obs([oldPrimary(), standby('node2', { answeredAt: NOW - 800 }), standby('node3')], NOW - 5000), S)).toMatchObject({ action: 'none', reason: expect.stringMatching(/own PostgreSQL has not answered within 750 ms/) });
    expect(decideFailover(obs([oldPrimary(), standby('node2'), standby('node3', { repmgrdPaused: true })], NOW - 5000), S)).toMatchObject({ action: 'none', reason: expect.stringMatching(/paused on node3/) });
    expect(decideFailover(obs([oldPrimary({ answeredAt: NOW - 100 }), standby('node2'), standby('node3')], null), S)).toMatchObject({ action: 'none', reason: 'node1 is the primary and answers' });
    expect(decideFailover(obs([{ name: 'node1', answeredAt: null }, standby('node2'), standby('node3')], NOW - 5000), S)).toMatchObject({ action: 'none', reason: 'no primary seen yet' });
    expect(decideFailover(obs([oldPrimary(), standby('node2', { writable: true }), standby('node3')], NOW - 5000), S)).toMatchObject({ action: 'none', reason: 'node2 is the primary: nothing to detect' });
  });

  it('failover held in Redis (maintenance mode, a running flow that restarts nodes, which forget repmgr\'s pause): nothing, though the rule would promote', () => {
    const nodes = [oldPrimary(), standby('node2'), standby('node3')];
    expect(decideFailover({ ...obs(nodes, NOW - 600, NOW - 300), heldBy: [] }, S)).toMatchObject({ action: 'promote' });
    expect(decideFailover({ ...obs(nodes, NOW - 600, NOW - 300), heldBy: ['flow pgha-restore-1 (active)'] }, S)).toEqual({ action: 'none', reason: 'automatic failover is held by flow pgha-restore-1 (active): no promotion meanwhile' });
  });

  it('no majority answers now (the sibling too is stale): the promotion rule refuses, nothing is promoted', () => {
    const d = decideFailover(obs([oldPrimary(), standby('node2'), standby('node3', { answeredAt: NOW - 2000 })], NOW - 5000, NOW - 5000), S);
    expect(d).toMatchObject({ action: 'none', reason: expect.stringMatching(/only 1 of 3 nodes answer/) });
  });

  it('the most advanced standby is the candidate; priority 0 never promotes; a higher priority wins among equals', () => {
    const ahead = [oldPrimary(), standby('node2'), standby('node3', { lsn: 600n })];
    expect(decideFailover(obs(ahead, NOW - 5000, NOW - 5000), S)).toMatchObject({ action: 'none', reason: expect.stringMatching(/node3 is the candidate/) });
    expect(decideFailover(obs(ahead, NOW - 5000, NOW - 5000, 'node3'), S)).toMatchObject({ action: 'promote', node: 'node3' });
    const equal = [oldPrimary(), standby('node2'), standby('node3')];
    expect(decideFailover(obs(equal, NOW - 5000, NOW - 5000, 'node3'), { ...S, priorities: { node2: 0 } })).toMatchObject({ action: 'promote', node: 'node3' });
    expect(decideFailover(obs(equal, NOW - 5000, NOW - 5000, 'node3'), { ...S, priorities: { node3: 150 } })).toMatchObject({ action: 'promote', node: 'node3' });
    expect(decideFailover(obs(equal, NOW - 5000, NOW - 5000, 'node2'), { ...S, priorities: { node3: 150 } })).toMatchObject({ action: 'none' });
    // a standby that lacks WAL only node1 had: nobody is ahead among those answering, so the rule accepts both
    expect(decideFailover(obs([oldPrimary({ lsn: 900n }), standby('node2'), standby('node3')], NOW - 5000, NOW - 5000), { ...S, priorities: { node2: 0, node3: 0 } })).toMatchObject({ action: 'none', reason: expect.stringMatching(/node2 has priority 0/) });
  });
});

// a random running view of 3 to 5 nodes seen by each standby the same way
const nodeArb = (name: string) =>
  fc
    .record({
      age: fc.constantFrom<number | null>(null, 50, 300, 700, 900, 3000),
      writable: fc.constantFrom(false, false, true),
      timeline: fc.integer({ min: 1, max: 3 }),
      lsn: fc.bigInt({ min: 0n, max: 5n }),
      upstream: fc.constantFrom<string | null>(null, 'node1', 'node2'),
      lastSeen: fc.constantFrom(-1, 0, 1, 2, 5),
      paused: fc.constantFrom(false, false, false, true),
      silent: fc.constantFrom<number | null>(null, 100, 1000, 2500, 6000),
      refused: fc.constantFrom<number | null>(null, null, 100, 400),
    })
    .map((x) => ({
      node: (x.age === null ? { name, answeredAt: null } : { name, answeredAt: NOW - x.age, writable: x.writable, timeline: x.timeline, lsn: x.lsn, upstream: x.writable ? null : x.upstream, upstreamLastSeenSecs: x.lastSeen, repmgrdPaused: x.paused }) as NodeView,
      silent: x.silent === null ? null : NOW - x.silent,
      refused: x.refused === null || x.silent === null ? null : NOW - Math.min(x.refused, x.silent),
    }));
const worldArb = fc.integer({ min: 3, max: 5 }).chain((size) => fc.tuple(...Array.from({ length: size }, (_, i) => nodeArb(`node${i + 1}`))));

describe('decideFailover: properties over random running views', () => {
  it('at most one standby decides to promote; never while a node answered writable within freshMs, a silent primary is given silentMs, and the one promoted is accepted by the promotion rule on the answers of the last freshMs', () => {
    let promoted = 0;
    fc.assert(
      fc.property(worldArb, (world) => {
        const view: ClusterView = { nodes: world.map((w) => w.node) };
        const silentSince = Object.fromEntries(world.map((w) => [w.node.name, w.silent]));
        const refusedSince = Object.fromEntries(world.map((w) => [w.node.name, w.refused]));
        const decisions = view.nodes.map((n) => decideFailover({ now: NOW, self: n.name, view, silentSince, refusedSince }, S));
        const promoting = decisions.filter((d) => d.action === 'promote');
        expect(promoting.length).toBeLessThanOrEqual(1);
        const p = promoting[0];
        if (!p || p.action !== 'promote') return;
        promoted++;
        const lost = world.find((w) => w.node.name === p.primary)!;
        const refusedLong = lost.refused !== null && NOW - lost.refused >= S.refusedMs;
        // no node answered writable within freshMs, but a primary that refuses now (it died since)
        expect(view.nodes.some((n) => n.answeredAt !== null && NOW - n.answeredAt <= S.freshMs && n.writable && !(n.name === p.primary && refusedLong))).toBe(false);
        expect(refusedLong || NOW - lost.silent! >= S.silentMs).toBe(true);
        // silence counts only when its watchdog could fence (its last answer was not paused)
        expect(refusedLong || !lost.node.repmgrdPaused).toBe(true);
        const nowView: ClusterView = { nodes: view.nodes.map((n) => (n.answeredAt !== null && NOW - n.answeredAt <= S.freshMs && n.name !== p.primary ? n : { name: n.name, answeredAt: null })) };
        expect(decidePromotion(p.node, nowView).ok).toBe(true);
      }),
      { numRuns: 6000 },
    );
    // the generator reaches promotions, not only refusals
    expect(promoted).toBeGreaterThan(10);
  });
});

describe('detectorSettings: from the config', () => {
  it('defaults: a silent primary is given 2750 ms (an answer time, 750 ms, plus the latest a cut-off primary stops, 2000 ms when its own answers are slow and it holds off until 1250 ms), a refusing one 250 ms; answers count for 750 ms; a sibling\'s repmgrd must have missed it 2 s; priorities from the nodes', () => {
    const config = localConfig();
    const s = detectorSettings(config);
    expect(s).toEqual({ silentMs: 2750, refusedMs: 250, freshMs: 750, consensusSecs: 2, priorities: { node1: 100, node2: 100, node3: 100 } });
    expect(s.silentMs).toBeGreaterThanOrEqual(s.freshMs + fencedWithinMs(config.fencing));
    // seconds before repmgrd's own earliest promotion on a silent primary (every ping waits out connect_timeout)
    expect(s.silentMs).toBeLessThan(promotionWindowMs(config.repmgr).latestMs);
  });

  it('property: whatever the fencing timings, a silent primary is given up only after it has fenced itself, even when the cut came as late as an accepted answer allows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 30_000 }), fc.integer({ min: 50, max: 5000 }), (afterMs, checkEveryMs) => {
        const config = localConfig();
        const fencing = { enabled: true, afterMs, checkEveryMs };
        const s = detectorSettings({ ...config, fencing });
        expect(s.silentMs).toBeGreaterThanOrEqual(s.freshMs + fencedWithinMs(fencing));
        // and after a busy primary's longest hold (busyHoldEndsMs), a check and the stop
        expect(s.silentMs).toBeGreaterThanOrEqual(s.freshMs + busyHoldEndsMs({ ...fencing, earliestPromotionMs: promotionWindowMs(config.repmgr).earliestMs }) + checkEveryMs + FENCE_STOP_MS);
      }),
    );
  });
});
