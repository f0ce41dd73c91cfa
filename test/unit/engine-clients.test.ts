// The compose tests' write-downtime figure: the longest gap between acknowledged writes from the fault on.
import { describe, it, expect } from '@jest/globals';
import { writeDowntime, type Try } from '../engine/clients.js';

const tries = (xs: [number, boolean][]): Try[] => xs.map(([t, ok], i) => ({ t, k: i + 1, ok }));

describe('writeDowntime', () => {
  it('from the last acknowledged write before the fault to the first after it', () => {
    expect(writeDowntime(tries([[0, true], [100, true], [200, false], [300, false], [1400, true], [1500, true]]), 150)).toBe(1300);
  });
  it('a second outage after writes came back counts when longer', () => {
    expect(writeDowntime(tries([[0, true], [100, false], [400, true], [500, false], [2500, true]]), 50)).toBe(2100);
  });
  it('no acknowledged write after the fault: null (the caller waits for one first)', () => {
    expect(writeDowntime(tries([[0, true], [100, false]]), 50)).toBeNull();
  });
  it('no write before the fault: measured from the fault', () => {
    expect(writeDowntime(tries([[0, false], [900, true]]), 100)).toBe(800);
  });
});
