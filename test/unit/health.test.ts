import { describe, it, expect } from '@jest/globals';
import { healthAnswer, parseLag } from '../../workers/health.js';
import type { NodeStatus } from '../../src/status.js';

const node = (name: string, role: NodeStatus['role'], extra: Partial<NodeStatus> = {}): NodeStatus => ({
  name, host: `127.0.0.${name.slice(-1)}`, port: 5432, role, upstream: null, timeline: role === 'down' ? null : 1, lagBytes: role === 'primary' ? 0 : null, lsn: null, pid: null, ...extra,
});
const q = (s = '') => new URLSearchParams(s);
const healthy = [node('node1', 'primary'), node('node2', 'standby', { upstream: 'node1', lagBytes: 100 }), node('node3', 'standby', { upstream: 'node1', lagBytes: 5000 })];
const codes = (nodes: NodeStatus[], path: string, query = '') => nodes.map((n) => healthAnswer(path, q(query), n.name, nodes).status);

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
    const noPrimary = [node('node1', 'down'), node('node2', 'standby', { upstream: 'node1', lagBytes: null }), node('node3', 'standby', { upstream: 'node1', lagBytes: null })];
    expect(codes(noPrimary, '/replica', 'lag=1MB')).toEqual([503, 503, 503]);
    expect(codes(noPrimary, '/replica')).toEqual([503, 200, 200]);
    expect(healthAnswer('/replica', q('lag=1MB'), 'node2', noPrimary).body.reason).toBe('lag unknown: no primary answers');
  });

  it('a standby that does not stream is no replica', () => {
    const detached = [node('node1', 'primary'), node('node2', 'standby', { upstream: null }), node('node3', 'standby', { upstream: 'node1', lagBytes: 0 })];
    expect(codes(detached, '/replica')).toEqual([503, 503, 200]);
  });

  it('a primary that sees no majority gets no writes; a dead node answers 503 everywhere', () => {
    const isolated = [node('node1', 'primary'), node('node2', 'down'), node('node3', 'down')];
    expect(codes(isolated, '/primary')).toEqual([503, 503, 503]);
    expect(healthAnswer('/primary', q(), 'node1', isolated).body.reason).toBe('sees 1 of 3 nodes, not a majority');
    expect(codes(isolated, '/health')).toEqual([200, 503, 503]);
    const oneDown = [node('node1', 'primary'), node('node2', 'standby', { upstream: 'node1', lagBytes: 0 }), node('node3', 'down')];
    expect(codes(oneDown, '/primary')).toEqual([200, 503, 503]);
    const single = [node('node1', 'primary')];
    expect(codes(single, '/primary')).toEqual([200]);
  });

  it('two writable nodes: neither is /primary', () => {
    const split = [
      node('node1', 'unknown', { error: '2 nodes accept writes' }),
      node('node2', 'unknown', { error: '2 nodes accept writes' }),
      node('node3', 'standby', { upstream: 'node1', lagBytes: null }),
    ];
    expect(codes(split, '/primary')).toEqual([503, 503, 503]);
    expect(healthAnswer('/primary', q(), 'node1', split).body.reason).toBe('2 nodes accept writes');
    expect(codes(split, '/health')).toEqual([200, 200, 200]);
  });

  it('unknown paths are 404; lag units', () => {
    expect(healthAnswer('/leader', q(), 'node1', healthy).status).toBe(404);
    expect([parseLag('0'), parseLag('512'), parseLag('16kB'), parseLag('1MB'), parseLag('2GB'), parseLag('1.5MB'), parseLag('-1'), parseLag('x')]).toEqual([0, 512, 16384, 1048576, 2147483648, null, null, null]);
  });
});
