// Who holds automatic failover paused (src/roles/maintenance.ts): a release unpauses repmgrd only
// when no other holder is left, on every combination of holders and releasers.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mustReassertPause, releasePause, type PauseHolder, type Releaser } from '../../src/roles/maintenance.js';

const maintenance: PauseHolder = { kind: 'maintenance', record: { by: 'dba@db1', reason: 'kernel upgrade', since: '2026-12-01T04:00:00.000Z', flowId: 'pgha-pause-1' } };
const flow = (flowId: string, state: string | null): PauseHolder => ({ kind: 'flow', flowId, state });

describe('releasePause', () => {
  it("a switchover ending inside a maintenance window leaves repmgrd paused, and says who holds it", () => {
    const r = releasePause([maintenance, flow('pgha-switchover-node2-1', 'running')], { kind: 'flow', flowId: 'pgha-switchover-node2-1' });
    expect(r).toMatchObject({ unpause: false, heldBy: [maintenance], dropped: [] });
    expect(r.reason).toBe('repmgrd stays paused: still held by maintenance mode (by dba@db1 since 2026-12-01T04:00:00.000Z: kernel upgrade; pgha resume ends it)');
  });

  it('pgha resume while a switchover is half-way leaves it paused; --force drops the flow\'s hold and resumes', () => {
    const holders = [maintenance, flow('pgha-switchover-node2-1', 'failed')];
    const r = releasePause(holders, { kind: 'maintenance' });
    expect(r).toMatchObject({ unpause: false, heldBy: [holders[1]] });
    expect(r.reason).toMatch(/flow pgha-switchover-node2-1 \(failed: retry its failed step in the dashboard, or pgha resume --force\)/);
    expect(releasePause(holders, { kind: 'maintenance', force: true })).toMatchObject({ unpause: true, heldBy: [], dropped: [holders[1]] });
  });

  it('a completed flow\'s record is stale: it holds nothing (a restore ends without a resume step)', () => {
    expect(releasePause([maintenance, flow('pgha-restore-1', 'completed')], { kind: 'maintenance' })).toMatchObject({ unpause: true, heldBy: [] });
  });

  it('a flow releases its own hold; another flow\'s hold keeps the pause', () => {
    expect(releasePause([flow('a', 'running')], { kind: 'flow', flowId: 'a' }).unpause).toBe(true);
    expect(releasePause([flow('b', 'running')], { kind: 'flow', flowId: 'a' })).toMatchObject({ unpause: false, heldBy: [flow('b', 'running')] });
    // a flow never drops another's hold, nor maintenance: force is the operator's only
    expect(releasePause([maintenance], { kind: 'flow', flowId: 'a' }).unpause).toBe(false);
  });

  it('property: unpause exactly when no live holder other than the releaser is left (force: the operator ignores flows); never with maintenance held by someone else', () => {
    const holder = fc.oneof(
      fc.constant(maintenance),
      fc.record({ kind: fc.constant('flow' as const), flowId: fc.constantFrom('a', 'b', 'c'), state: fc.constantFrom('completed', 'failed', 'running', 'waiting', null) }),
    );
    const releaser: fc.Arbitrary<Releaser> = fc.oneof(
      fc.record({ kind: fc.constant('maintenance' as const), force: fc.boolean() }),
      fc.record({ kind: fc.constant('flow' as const), flowId: fc.constantFrom('a', 'b', 'c') }),
    );
    fc.assert(
      fc.property(fc.array(holder, { maxLength: 4 }), releaser, (holders, rel) => {
        const r = releasePause(holders, rel);
        const own = (h: PauseHolder) => (h.kind === 'maintenance' ? rel.kind === 'maintenance' : rel.kind === 'flow' && rel.flowId === h.flowId);
        const live = holders.filter((h) => !own(h) && (h.kind === 'maintenance' || h.state !== 'completed'));
        const blocking = rel.kind === 'maintenance' && rel.force ? live.filter((h) => h.kind === 'maintenance') : live;
        expect(r.unpause).toBe(blocking.length === 0);
        if (rel.kind === 'flow' && holders.some((h) => h.kind === 'maintenance')) expect(r.unpause).toBe(false);
        if (!r.unpause) expect(r.heldBy.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe('mustReassertPause', () => {
  it('only with maintenance on, for a node that answers with repmgrd not paused', () => {
    const m = (maintenance as Extract<PauseHolder, { kind: 'maintenance' }>).record;
    expect(mustReassertPause(m, { answered: true, repmgrdPaused: false })).toBe(true);
    expect(mustReassertPause(m, { answered: true, repmgrdPaused: true })).toBe(false);
    expect(mustReassertPause(m, { answered: false })).toBe(false);
    expect(mustReassertPause(null, { answered: true, repmgrdPaused: false })).toBe(false);
  });
});
