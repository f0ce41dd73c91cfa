import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decideSynchronous, quorumStandbyNames, quorumStandbys } from '../../src/roles/quorum.js';
import { decidePromotion } from '../../src/roles/promotion.js';
import { hasMajority, majorityOf, type ClusterView, type NodeView } from '../../src/roles/view.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `node${i + 1}`);
/** A cluster of `size` nodes of which the first `count` answered. */
const answering = (count: number, size: number): ClusterView => ({ nodes: names(size).map((name, i) => ({ name, answeredAt: i < count ? 1 : null })) });

describe('majority', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
  ])('a cluster of %i needs %i', (size, needed) => {
    expect(majorityOf(size)).toBe(needed);
    expect(hasMajority(answering(needed, size))).toBe(true);
    expect(hasMajority(answering(needed - 1, size))).toBe(false);
  });

  it('two majorities of one cluster always share a node (odd and even sizes)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), (size) => {
        // the smallest two majorities overlap: that is what makes one acknowledged commit visible to any later majority
        expect(majorityOf(size) * 2).toBeGreaterThan(size);
      }),
    );
  });
});

describe('quorum synchronous_standby_names', () => {
  it('names every node and asks majority − 1 standbys', () => {
    expect(quorumStandbyNames('quorum', names(3))).toBe('ANY 1 ("node1", "node2", "node3")');
    expect(quorumStandbyNames('quorum', names(4))).toBe('ANY 2 ("node1", "node2", "node3", "node4")');
    expect(quorumStandbyNames('quorum', names(5))).toBe('ANY 2 ("node1", "node2", "node3", "node4", "node5")');
    expect(quorumStandbyNames('quorum', names(2))).toBe('ANY 1 ("node1", "node2")');
  });

  it('is empty with mode off and on a single node', () => {
    expect(quorumStandbyNames('off', names(3))).toBe('');
    expect(quorumStandbyNames('quorum', names(1))).toBe('');
  });

  it('primary plus k standbys is always a majority, and k never asks for more standbys than exist', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 15 }), (size) => {
        const k = quorumStandbys(size);
        expect(hasMajority(answering(1 + k, size))).toBe(true);
        expect(k).toBeLessThanOrEqual(size - 1);
      }),
    );
  });
});

describe('decideSynchronous', () => {
  const q3 = quorumStandbyNames('quorum', names(3));

  it('a standby keeps the quorum value ready for its promotion', () => {
    expect(decideSynchronous('quorum', names(3), { writable: false, current: '', streaming: [] })).toMatchObject({ action: 'set', value: q3 });
  });

  it('a primary without it (first start, restore) turns it on only once enough standbys stream', () => {
    expect(decideSynchronous('quorum', names(3), { writable: true, current: '', streaming: [] })).toMatchObject({ action: 'keep' });
    // barman's pg_receivewal is no member of the quorum
    expect(decideSynchronous('quorum', names(3), { writable: true, current: '', streaming: ['barman_receive_wal'] })).toMatchObject({ action: 'keep' });
    expect(decideSynchronous('quorum', names(3), { writable: true, current: '', streaming: ['node2'] })).toMatchObject({ action: 'set', value: q3 });
    expect(decideSynchronous('quorum', names(5), { writable: true, current: '', streaming: ['node2'] })).toMatchObject({ action: 'keep' });
  });

  it('a primary that has the quorum never drops it, whatever streams (a commit waits instead of being lost)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 7 }), fc.subarray(names(7)), (size, streaming) => {
        const want = quorumStandbyNames('quorum', names(size));
        const d = decideSynchronous('quorum', names(size), { writable: true, current: want, streaming });
        expect(d.action).toBe('keep');
      }),
    );
  });

  it('a primary never sets a value whose quorum the streaming standbys cannot meet', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.subarray(names(7)), fc.constantFrom('', 'ANY 1 ("a", "b")'), (size, streaming, current) => {
        const d = decideSynchronous('quorum', names(size), { writable: true, current, streaming });
        if (d.action === 'set' && d.value) expect(streaming.filter((s) => names(size).includes(s)).length).toBeGreaterThanOrEqual(quorumStandbys(size));
      }),
    );
  });

  it('a cluster grown from 3 to 5 nodes keeps the old quorum until the new one can be met', () => {
    const d = decideSynchronous('quorum', names(5), { writable: true, current: q3, streaming: ['node2'] });
    expect(d).toMatchObject({ action: 'keep' });
    expect(d.reason).toContain('keeps ANY 1');
  });

  it('mode off turns it off everywhere', () => {
    expect(decideSynchronous('off', names(3), { writable: true, current: q3, streaming: ['node2'] })).toMatchObject({ action: 'set', value: '' });
    expect(decideSynchronous('off', names(3), { writable: true, current: '', streaming: [] })).toMatchObject({ action: 'keep' });
  });
});

// ---- the promotion rule -----------------------------------------------------------------------

const standby = (name: string, lsn: bigint, timeline = 3): NodeView => ({ name, answeredAt: 1, writable: false, timeline, lsn });
const primary = (name: string, lsn = 0n, timeline = 3): NodeView => ({ name, answeredAt: 1, writable: true, timeline, lsn });
const down = (name: string): NodeView => ({ name, answeredAt: null, down: true });

describe('decidePromotion: cases', () => {
  it('the most advanced standby of a reachable majority may be promoted', () => {
    const d = decidePromotion('node3', { nodes: [down('node1'), standby('node2', 100n), standby('node3', 200n)] });
    expect(d).toMatchObject({ ok: true, forced: false });
  });

  it('a standby behind a reachable sibling is refused, naming the sibling and the bytes (failing input: failover --to a lagging standby)', () => {
    const d = decidePromotion('node2', { nodes: [down('node1'), standby('node2', 1000n), standby('node3', 1000n + 131_072n)] });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.forceable).toBe(true);
    expect(d.ahead).toEqual([{ name: 'node3', bytes: 131_072n, timeline: 3 }]);
    expect(d.reason).toContain('node3 has 131072 bytes of WAL that node2 lacks');
  });

  it('--force promotes it anyway and says what is lost', () => {
    const d = decidePromotion('node2', { nodes: [down('node1'), standby('node2', 1000n), standby('node3', 5000n)] }, { force: true });
    expect(d).toMatchObject({ ok: true, forced: true });
    expect(d.reason).toContain('node3 has 4000 bytes');
  });

  it('a sibling on a newer timeline is ahead whatever its LSN', () => {
    const d = decidePromotion('node2', { nodes: [down('node1'), standby('node2', 9000n, 3), standby('node3', 10n, 4)] });
    expect(d).toMatchObject({ ok: false, forceable: true, ahead: [{ name: 'node3', bytes: null, timeline: 4 }] });
  });

  it('no majority answering: refused unless forced', () => {
    const d = decidePromotion('node2', { nodes: [down('node1'), standby('node2', 100n), down('node3')] });
    expect(d).toMatchObject({ ok: false, forceable: true });
    expect(d.reason).toContain('only 1 of 3 nodes answer');
    expect(decidePromotion('node2', { nodes: [down('node1'), standby('node2', 100n), down('node3')] }, { force: true })).toMatchObject({ ok: true, forced: true });
  });

  it('never while a node accepts writes, even forced', () => {
    const d = decidePromotion('node2', { nodes: [primary('node1'), standby('node2', 100n), standby('node3', 50n)] }, { force: true });
    expect(d).toMatchObject({ ok: false, forceable: false });
    expect(d.reason).toContain('node1 still accepts writes');
  });

  it('never a node that is down or already a primary', () => {
    expect(decidePromotion('node2', { nodes: [down('node1'), down('node2'), standby('node3', 1n)] }, { force: true })).toMatchObject({ ok: false, forceable: false });
    expect(decidePromotion('node2', { nodes: [down('node1'), primary('node2'), standby('node3', 1n)] }, { force: true })).toMatchObject({ ok: false, forceable: false });
  });

  it('a 2-node cluster never promotes by itself: the lone standby is no majority', () => {
    expect(decidePromotion('node2', { nodes: [down('node1'), standby('node2', 5n)] })).toMatchObject({ ok: false, forceable: true });
  });

  it('4 nodes: 2 answering are no majority, 3 are', () => {
    expect(decidePromotion('node2', { nodes: [down('node1'), standby('node2', 5n), standby('node3', 5n), down('node4')] }).ok).toBe(false);
    expect(decidePromotion('node2', { nodes: [down('node1'), standby('node2', 5n), standby('node3', 5n), standby('node4', 4n)] }).ok).toBe(true);
  });
});

describe('decidePromotion: properties', () => {
  /**
   * A cluster history in quorum mode: the dead primary acknowledged a commit at LSN `ack` only once a
   * majority (itself included) had it. Whatever nodes answer afterwards and whatever each received,
   * a promotion the rule allows (unforced) must be of a node that has `ack`.
   */
  const cluster = fc
    .integer({ min: 2, max: 7 })
    .chain((size) =>
      fc.record({
        size: fc.constant(size),
        // how far each standby got (node1 is the dead primary)
        lsns: fc.array(fc.bigInt({ min: 0n, max: 1000n }), { minLength: size - 1, maxLength: size - 1 }),
        reachable: fc.array(fc.boolean(), { minLength: size - 1, maxLength: size - 1 }),
        candidate: fc.integer({ min: 0, max: size - 2 }),
      }),
    );

  it('an allowed promotion never loses an acknowledged commit (even and odd sizes)', () => {
    fc.assert(
      fc.property(cluster, ({ size, lsns, reachable, candidate }) => {
        // the newest commit the primary could acknowledge: the highest LSN that primary + (majority − 1) standbys have
        const sorted = [...lsns].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
        const k = majorityOf(size) - 1;
        const acked = k === 0 ? null : sorted[k - 1];
        const nodes: NodeView[] = [down('node1'), ...lsns.map((l, i) => (reachable[i] ? standby(`node${i + 2}`, l) : down(`node${i + 2}`)))];
        const d = decidePromotion(`node${candidate + 2}`, { nodes: nodes });
        if (d.ok && acked !== null) expect(lsns[candidate]).toBeGreaterThanOrEqual(acked);
      }),
      { numRuns: 2000 },
    );
  });

  it('with a majority answering, exactly the most advanced reachable standbys are allowed', () => {
    fc.assert(
      fc.property(cluster, ({ size, lsns, reachable, candidate }) => {
        const nodes: NodeView[] = [down('node1'), ...lsns.map((l, i) => (reachable[i] ? standby(`node${i + 2}`, l) : down(`node${i + 2}`)))];
        const up = lsns.filter((_, i) => reachable[i]);
        const d = decidePromotion(`node${candidate + 2}`, { nodes: nodes });
        if (!reachable[candidate]) return expect(d.ok).toBe(false);
        const best = up.reduce((a, b) => (a > b ? a : b));
        expect(d.ok).toBe(hasMajority(answering(up.length, size)) && lsns[candidate] === best);
      }),
      { numRuns: 2000 },
    );
  });

  it('force never promotes beside a writable node', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 5 }), (size, w) => {
        const writer = Math.min(w, size - 1);
        const nodes = names(size).map((n, i) => (i === writer ? primary(n) : standby(n, 5n)));
        const candidate = writer === 0 ? 'node2' : 'node1';
        expect(decidePromotion(candidate, { nodes: nodes }, { force: true }).ok).toBe(false);
      }),
    );
  });
});
