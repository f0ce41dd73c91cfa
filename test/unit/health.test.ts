import { describe, it, expect } from '@jest/globals';
import { healthAnswer, parseLag } from '../../src/roles/health.js';
import { viewCache, withSelf } from '../../workers/health.js';
import type { ClusterView, NodeView } from '../../src/roles/view.js';

// the primary has written up to P; a standby's lag is P less what it replayed
const P = 100_000n;
const primary = (name: string): NodeView => ({ name, answeredAt: 1, writable: true, timeline: 1, lsn: P, replayLsn: P, upstream: null });
const standby = (name: string, upstream: string | null, lag = 0): NodeView => ({ name, answeredAt: 1, writable: false, timeline: 1, lsn: P - BigInt(lag), replayLsn: P - BigInt(lag), upstream });
const down = (name: string): NodeView => ({ name, answeredAt: null, down: true, error: 'connect ECONNREFUSED' });
const view = (...nodes: NodeView[]): ClusterView => ({ nodes });
const q = (s = '') => new URLSearchParams(s);
const healthy = view(primary('node1'), standby('node2', 'node1', 100), standby('node3', 'node1', 5000));
const codes = (v: ClusterView, path: string, query = '') => v.nodes.map((n) => healthAnswer(path, q(query), n.name, v).status);

describe('health checks', () => {
  it('a healthy cluster: /primary only on the primary, /replica only on the standbys, /health on all', () => {
    expect(codes(healthy, '/primary')).toEqual([200, 503, 503]);
    expect(codes(healthy, '/read-write')).toEqual([200, 503, 503]);
    expect(codes(healthy, '/replica')).toEqual([503, 200, 200]);
    expect(codes(healthy, '/health')).toEqual([200, 200, 200]);
    expect(healthAnswer('/primary', q(), 'node2', healthy).body).toEqual({ node: 'node2', role: 'standby', timeline: 1, upstream: 'node1', lagBytes: 100, reason: 'not the primary (standby)' });
  });

  it('?lag= keeps standbys further behind out; an unknown lag (no primary) counts as too far', () => {
    expect(codes(healthy, '/replica', 'lag=1kB')).toEqual([503, 200, 503]);
    expect(codes(healthy, '/replica', 'lag=10000')).toEqual([503, 200, 200]);
    expect(healthAnswer('/replica', q('lag=1kB'), 'node3', healthy).body.reason).toBe('lag 5000 bytes is over 1024');
    expect(healthAnswer('/replica', q('lag=lots'), 'node2', healthy).status).toBe(400);
    const noPrimary = view(down('node1'), standby('node2', 'node1'), standby('node3', 'node1'));
    expect(codes(noPrimary, '/replica', 'lag=1MB')).toEqual([503, 503, 503]);
    expect(codes(noPrimary, '/replica')).toEqual([503, 200, 200]);
    expect(healthAnswer('/replica', q('lag=1MB'), 'node2', noPrimary).body.reason).toBe('lag unknown: no primary answers');
  });

  it('a standby that does not stream is no replica', () => {
    const detached = view(primary('node1'), standby('node2', null), standby('node3', 'node1'));
    expect(codes(detached, '/replica')).toEqual([503, 503, 200]);
  });

  it('a primary that sees no majority gets no writes; a dead node answers 503 everywhere', () => {
    const isolated = view(primary('node1'), down('node2'), down('node3'));
    expect(codes(isolated, '/primary')).toEqual([503, 503, 503]);
    expect(healthAnswer('/primary', q(), 'node1', isolated).body.reason).toBe('sees 1 of 3 nodes, not a majority');
    expect(codes(isolated, '/health')).toEqual([200, 503, 503]);
    const oneDown = view(primary('node1'), standby('node2', 'node1'), down('node3'));
    expect(codes(oneDown, '/primary')).toEqual([200, 503, 503]);
    const single = view(primary('node1'));
    expect(codes(single, '/primary')).toEqual([200]);
  });

  it('two writable nodes: neither is /primary', () => {
    const split = view(primary('node1'), primary('node2'), standby('node3', 'node1'));
    expect(codes(split, '/primary')).toEqual([503, 503, 503]);
    expect(healthAnswer('/primary', q(), 'node1', split).body.reason).toBe('2 nodes accept writes');
    expect(codes(split, '/health')).toEqual([200, 200, 200]);
  });

  it('unknown paths are 404; lag units', () => {
    expect(healthAnswer('/leader', q(), 'node1', healthy).status).toBe(404);
    expect([parseLag('0'), parseLag('512'), parseLag('16kB'), parseLag('1MB'), parseLag('2GB'), parseLag('1.5MB'), parseLag('-1'), parseLag('x')]).toEqual([0, 512, 16384, 1048576, 2147483648, null, null, null]);
  });
});

describe('viewCache: health checks answer from the latest read, never waiting on a frozen peer once one read is done', () => {
  // a read that takes 2 s (a frozen peer's probe timeout) on a fake clock
  const setup = () => {
    let t = 0;
    const reads: { at: number; done: (v: ClusterView) => void }[] = [];
    const read = () => new Promise<ClusterView>((done) => reads.push({ at: t, done }));
    const get = viewCache(read, 5000, 500, () => t);
    return { get, reads, tick: (ms: number) => (t += ms), finish: async (i: number, v: ClusterView) => { reads[i].done(v); await new Promise((r) => setImmediate(r)); } };
  };
  const v1 = view(primary('node1'));
  const v2 = view(primary('node2'));

  it('the first check waits for a read; later ones get the latest at once and start the next in the background, one at a time', async () => {
    const c = setup();
    const first = c.get();
    expect(c.reads).toHaveLength(1);
    c.tick(2000);
    await c.finish(0, v1);
    expect(await first).toBe(v1);
    // 2 s old: answered at once, a new read starts
    expect(await c.get()).toBe(v1);
    expect(c.reads).toHaveLength(2);
    // while it runs, no other starts
    c.tick(1000);
    expect(await c.get()).toBe(v1);
    expect(c.reads).toHaveLength(2);
    c.tick(1000);
    await c.finish(1, v2);
    expect(await c.get()).toBe(v2);
  });

  it('a read begun more than freshMs ago answers no more: the check waits for a new one', async () => {
    const c = setup();
    const first = c.get();
    await c.finish(0, v1);
    await first;
    c.tick(5001);
    const late = c.get();
    expect(c.reads).toHaveLength(2);
    await c.finish(1, v2);
    expect(await late).toBe(v2);
  });

  it('a fresh read under refreshMs starts nothing', async () => {
    const c = setup();
    const first = c.get();
    await c.finish(0, v1);
    await first;
    c.tick(400);
    expect(await c.get()).toBe(v1);
    expect(c.reads).toHaveLength(1);
  });
});

describe('withSelf: a check is about its own node, read live; the peers come from the latest read', () => {
  it('its own PostgreSQL frozen since the last read: 503, whatever the cached view said', () => {
    const cached = view(primary('node1'), standby('node2', 'node1'), standby('node3', 'node1'));
    const frozen: NodeView = { name: 'node1', answeredAt: null, down: true, error: 'timeout expired' };
    const v = withSelf(cached, frozen);
    expect(v.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    expect(healthAnswer('/health', q(), 'node1', v)).toMatchObject({ status: 503, body: { reason: 'PostgreSQL does not answer: timeout expired' } });
    expect(healthAnswer('/primary', q(), 'node1', v).status).toBe(503);
    // the cached peers still count for the majority of a live primary
    expect(healthAnswer('/primary', q(), 'node1', withSelf(cached, primary('node1'))).status).toBe(200);
  });
});
