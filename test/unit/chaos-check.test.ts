import { describe, expect, it } from '@jest/globals';
import { divergence, interleavedAcks, lostAcks, perNemesis, prng, type Ack } from '../../bench/chaos/check.js';
import { workerOfQueue } from '../../bench/chaos/steps.js';
import { barmanQueueName, controlQueueName, nodeQueueName } from '../../src/queues.js';

const ack = (key: number, node: string, at: number, client = 'c'): Ack => ({ key, node, at, client });

describe('nemesis suite checkers', () => {
  it('lostAcks: every acknowledged key missing from the final primary', () => {
    expect(lostAcks([ack(1, 'node1', 0), ack(2, 'node1', 1), ack(3, 'node2', 2)], new Set([1, 3]))).toEqual([ack(2, 'node1', 1)]);
    expect(lostAcks([ack(1, 'node1', 0)], new Set([1]))).toEqual([]);
  });

  it('interleavedAcks: a failover (node1 then node2) is fine; node1 acknowledging again right after node2 did is two writers', () => {
    expect(interleavedAcks([ack(1, 'node1', 0), ack(2, 'node1', 20), ack(3, 'node2', 3000), ack(4, 'node2', 3020)])).toEqual([]);
    expect(interleavedAcks([ack(1, 'node1', 0), ack(2, 'node2', 100), ack(3, 'node1', 200)])).toEqual([{ at: 200, nodes: ['node2', 'node1'] }]);
    // back to an old node long after (a second failover back): not interleaved
    expect(interleavedAcks([ack(1, 'node1', 0), ack(2, 'node2', 5000), ack(3, 'node1', 20000)])).toEqual([]);
    // out of order input is sorted by time first
    expect(interleavedAcks([ack(3, 'node1', 200), ack(1, 'node1', 0), ack(2, 'node2', 100)])).toHaveLength(1);
  });

  it('divergence: null when every node has the same checksum per table, else which nodes differ', () => {
    expect(divergence({ node1: { t: 'a', b: 'x' }, node2: { t: 'a', b: 'x' } })).toBeNull();
    expect(divergence({ node1: { t: 'a' }, node2: { t: 'a' }, node3: { t: 'b' } })).toBe('t: node1+node2 ≠ node3');
    expect(divergence({ node1: { t: 'a' }, node2: { t: null } })).toBe('t: node1 ≠ node2');
  });

  it('prng: the same seed gives the same sequence, another seed another', () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(prng(43)()).not.toBe(xs[0]);
  });

  it('perNemesis: runs, healed, median and max heal time per nemesis', () => {
    const e = (nemesis: string, healedMs: number | null) => ({ nemesis, target: 'x', startedAt: 0, healedMs });
    expect(perNemesis([e('kill', 1000), e('kill', 3000), e('kill', 2000), e('pause', null)])).toEqual([
      { nemesis: 'kill', runs: 3, healed: 3, medianHealMs: 2000, maxHealMs: 3000 },
      { nemesis: 'pause', runs: 1, healed: 0, medianHealMs: null, maxHealMs: null },
    ]);
  });
});

describe('crash-safety suite: which worker runs a queue', () => {
  it('a node queue is that node worker, barman and control their own', () => {
    expect(workerOfQueue(nodeQueueName('pgha', 'node2'))).toBe('node2-worker');
    expect(workerOfQueue(barmanQueueName('pgha'))).toBe('barman-worker');
    expect(workerOfQueue(controlQueueName('pgha'))).toBe('control-worker');
    expect(() => workerOfQueue('something-else')).toThrow('not a pgha queue');
  });
});
