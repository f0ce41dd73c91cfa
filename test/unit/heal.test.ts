import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { HEAL_AFTER_MS, standbyHealStep, type StandbyObservation } from '../../src/roles/heal.js';
import { answered, majorityPrimary, type ClusterView, type NodeView } from '../../src/roles/view.js';
import { buildStandbyHealFlow } from '../../src/flows/operations.js';
import { flowSteps } from '../../src/flows/chain.js';
import { nodeQueueName } from '../../src/queues.js';
import { localConfig } from './helpers.js';

const T = 1_000_000;
/** node3's keeper reads: itself (a standby of `upstream`, null: down), `primary` writable (null: none), node2 a standby; repmgrd paused on node1 or not. */
interface Seen {
  self?: { standby: boolean; upstream: string | null } | null;
  primary?: string | null;
  paused?: boolean;
  busySteps?: number;
  now?: number;
}
const obs = ({ self = { standby: true, upstream: 'node2' }, primary = 'node1', paused = false, busySteps = 0, now = T }: Seen = {}): StandbyObservation => {
  const node = (name: string): NodeView => ({ name, answeredAt: T - 100, writable: name === primary, timeline: 2, upstream: name === primary ? null : primary, repmgrdPaused: paused && name === 'node1' });
  const me: NodeView = self ? { name: 'node3', answeredAt: T - 100, writable: !self.standby, timeline: 2, upstream: self.upstream, repmgrdPaused: false } : { name: 'node3', answeredAt: null, down: true };
  return { now, self: 'node3', view: { nodes: [node('node1'), node('node2'), me] }, busySteps };
};

describe('standbyHealStep: a standby that does not stream from the primary follows it', () => {
  it('streams from a demoted node (failing input 4): waits HEAL_AFTER_MS, then heals toward the primary, once', () => {
    const first = standbyHealStep({ wrongSince: null }, obs());
    expect(first.decision).toEqual({ action: 'none', reason: `streams from node2, not from the primary node1 for 0 ms: heals after ${HEAL_AFTER_MS} ms` });
    expect(first.state.wrongSince).toBe(T);
    expect(standbyHealStep(first.state, obs({ now: T + HEAL_AFTER_MS - 1 })).decision.action).toBe('none');
    const heal = standbyHealStep(first.state, obs({ now: T + HEAL_AFTER_MS }));
    expect(heal.decision).toEqual({ action: 'heal', primary: 'node1', reason: `streams from node2, not from the primary node1 for ${HEAL_AFTER_MS} ms: follow it (rewind or re-clone when it cannot)` });
    // the window starts over: one heal flow per window, not one per check
    expect(heal.state.wrongSince).toBeNull();
  });

  it('streams from nothing (its slot is gone): heals too', () => {
    const r = standbyHealStep({ wrongSince: T - HEAL_AFTER_MS }, obs({ self: { standby: true, upstream: null } }));
    expect(r.decision).toMatchObject({ action: 'heal', primary: 'node1', reason: expect.stringMatching(/^streams from nothing while node1 is the primary/) });
  });

  it('streaming from the primary again, or no longer a standby, or down: the window is forgotten', () => {
    for (const o of [obs({ self: { standby: true, upstream: 'node1' } }), obs({ self: { standby: false, upstream: null } }), obs({ self: null }), obs({ primary: null })]) {
      const r = standbyHealStep({ wrongSince: T - 10 * HEAL_AFTER_MS }, o);
      expect(r.decision.action).toBe('none');
      expect(r.state.wrongSince).toBeNull();
    }
  });

  it('an operation under way (repmgrd paused, or steps of its flows queued): waits, and its window starts once that ends', () => {
    const paused = standbyHealStep({ wrongSince: T - 10 * HEAL_AFTER_MS }, obs({ paused: true }));
    expect(paused.decision).toEqual({ action: 'none', reason: 'streams from node2, not from the primary node1; repmgrd is paused (an operation is in progress): waits for it' });
    expect(paused.state.wrongSince).toBeNull();
    const busy = standbyHealStep({ wrongSince: T - 10 * HEAL_AFTER_MS }, obs({ busySteps: 2 }));
    expect(busy.decision.reason).toMatch(/2 step\(s\) of its flows are under way/);
    expect(busy.state.wrongSince).toBeNull();
  });

  it('property: heals only a standby, only toward the one primary seen with a majority, only when nothing is under way and the window has passed', () => {
    const name = fc.constantFrom('node1', 'node2', 'node3', 'node4');
    const nodeView = (n: string) =>
      // weighted toward clusters that answer, with one primary and nothing paused: the heal branch is reached often
      fc.record({ answered: fc.constantFrom(true, true, true, false), writable: fc.constantFrom(false, false, true), upstream: fc.option(name, { nil: null }), paused: fc.constantFrom(false, false, false, false, false, true) }).map(
        (x): NodeView => (x.answered ? { name: n, answeredAt: T - 100, writable: x.writable, upstream: x.upstream, repmgrdPaused: x.paused } : { name: n, answeredAt: null }),
      );
    let heals = 0;
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 3 * HEAL_AFTER_MS }), { nil: null }),
        fc.integer({ min: 2, max: 4 }).chain((size) => fc.tuple(...['node1', 'node2', 'node3', 'node4'].slice(0, size).map(nodeView))),
        fc.integer({ min: 0, max: 2 }),
        (age, nodes, busySteps) => {
          const view: ClusterView = { nodes };
          const r = standbyHealStep({ wrongSince: age === null ? null : T - age }, { now: T, self: 'node2', view, busySteps });
          if (r.decision.action !== 'heal') return;
          heals++;
          const self = nodes[1];
          const primary = majorityPrimary(view);
          expect(answered(self) && self.writable === false).toBe(true);
          expect(primary).not.toBeNull();
          expect(r.decision.primary).toBe(primary!.name);
          expect(self.upstream).not.toBe(primary!.name);
          expect(nodes.some((n) => answered(n) && n.repmgrdPaused) || busySteps > 0).toBe(false);
          expect(age).not.toBeNull();
          expect(age!).toBeGreaterThanOrEqual(HEAL_AFTER_MS);
        },
      ),
      // seeded: the count below must not depend on the draw
      { numRuns: 3000, seed: 20261201 },
    );
    // the generator reaches the heal branch, so the property was exercised
    expect(heals).toBeGreaterThan(20);
  });

  it('the heal flow: ensure-follows on the node\'s own queue, toward the primary', () => {
    const config = localConfig();
    const steps = flowSteps(buildStandbyHealFlow(config, 'node3', 'node1', 'c-heal-node3-1').tree);
    expect(steps.map((j) => [j.name, j.queueName, j.data.node, j.data.primary, j.data.heal])).toEqual([['ensure-follows', nodeQueueName(config.cluster, 'node3'), 'node3', 'node1', true]]);
  });
});
