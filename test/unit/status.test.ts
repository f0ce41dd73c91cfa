import { describe, it, expect } from '@jest/globals';
import { failoverState, nodeStatuses, type NodeStatus } from '../../src/status.js';
import { formatStatusTable } from '../../cli/status-table.js';
import { clusterViewOf, type Probe } from '../../src/probe.js';
import { lsnToBytes } from '../../src/postgres/lsn.js';
import { majorityPrimary, type NodeView } from '../../src/roles/view.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { localConfig } from './helpers.js';

type Answer = { probe?: Probe; error?: Error & { code?: string }; pid: number | null };
/** What each node answered, probed at 1000 ms, as the cluster view. */
const viewOf = (config: ClusterConfig, answers: Map<string, Answer>) => clusterViewOf(config, new Map([...answers].map(([k, a]) => [k, a.probe ? { probe: a.probe } : { error: a.error! }])), 1000);
/** The status rows of those answers, with each postmaster's pid. */
const decideTopology = (config: ClusterConfig, answers: Map<string, Answer>) => nodeStatuses(config, viewOf(config, answers), new Map([...answers].map(([k, a]) => [k, a.pid])));

const primaryProbe = (lsn: string, timeline = 1): Probe => ({ recovery: false, lsn, receivedLsn: lsn, timeline, timelineTaken: null, senderHost: null, repmgrPrimaries: ['node1'], repmgrdPaused: false, startedAt: 0 });
const standbyProbe = (lsn: string | null, senderHost: string | null, timeline = 1): Probe => ({
  recovery: true,
  lsn,
  receivedLsn: lsn,
  timeline,
  timelineTaken: null,
  senderHost,
  repmgrPrimaries: ['node1'],
  repmgrdPaused: false,
  startedAt: 0,
});
const err = (message: string, code?: string): Error & { code?: string } => Object.assign(new Error(message), code === undefined ? {} : { code });

const byName = (nodes: NodeStatus[]) => Object.fromEntries(nodes.map((n) => [n.name, n]));

describe('lsnToBytes', () => {
  it('"0/0" is 0', () => {
    expect(lsnToBytes('0/0')).toBe(0n);
  });

  it('"16/B374D848" is 0x16 << 32 plus 0xB374D848', () => {
    expect(lsnToBytes('16/B374D848')).toBe(0x16n * 0x1_0000_0000n + 0xb374d848n);
    expect(lsnToBytes('16/B374D848')).toBe(97500059720n);
  });

  it('the low part is not shifted, the high part is', () => {
    expect(lsnToBytes('0/5000060')).toBe(0x5000060n);
    expect(lsnToBytes('1/0')).toBe(4294967296n);
    expect(lsnToBytes('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n);
  });

  it('accepts lower-case hex', () => {
    expect(lsnToBytes('16/b374d848')).toBe(lsnToBytes('16/B374D848'));
  });

  it.each([['garbage'], ['16B374D848'], ['16/'], ['/5'], ['G/0'], ['0/0/0'], [' 0/0'], ['0x1/0']])('invalid %p is null', (s) => {
    expect(lsnToBytes(s)).toBeNull();
  });

  it('null, undefined and empty are null', () => {
    expect(lsnToBytes(null)).toBeNull();
    expect(lsnToBytes(undefined)).toBeNull();
    expect(lsnToBytes('')).toBeNull();
  });
});

describe('nodeStatuses: the status rows from the cluster view', () => {
  const config = localConfig();

  it('one primary, two standbys: roles, upstreams, timelines and lags from the LSNs', () => {
    const answers = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('0/5000060', 2), pid: 101 }],
      ['node2', { probe: standbyProbe('0/5000000', '127.0.0.11', 2), pid: 102 }],
      ['node3', { probe: standbyProbe('0/4000060', '127.0.0.11', 2), pid: null }],
    ]);
    const nodes = decideTopology(config, answers);
    expect(nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    expect(nodes[0]).toEqual({ name: 'node1', host: '127.0.0.11', port: 5432, pid: 101, repmgrdPaused: false, pendingRestart: [], role: 'primary', upstream: null, timeline: 2, lagBytes: 0, lsn: '0/5000060' });
    expect(nodes[1]).toEqual({ name: 'node2', host: '127.0.0.12', port: 5432, pid: 102, repmgrdPaused: false, pendingRestart: [], role: 'standby', upstream: 'node1', timeline: 2, lagBytes: 0x60, lsn: '0/5000000' });
    expect(nodes[2]).toEqual({ name: 'node3', host: '127.0.0.13', port: 5432, pid: null, repmgrdPaused: false, pendingRestart: [], role: 'standby', upstream: 'node1', timeline: 2, lagBytes: 0x1000000, lsn: '0/4000060' });
    for (const n of nodes) expect(n).not.toHaveProperty('error');
  });

  it('lag across a 4 GiB boundary uses both halves of the LSN', () => {
    const answers = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('1/10'), pid: null }],
      ['node2', { probe: standbyProbe('0/FFFFFFF0', '127.0.0.11'), pid: null }],
      ['node3', { probe: standbyProbe('1/10', '127.0.0.11'), pid: null }],
    ]);
    const n = byName(decideTopology(config, answers));
    expect(n.node2.lagBytes).toBe(0x20);
    expect(n.node3.lagBytes).toBe(0);
  });

  it('a standby ahead of the primary\'s LSN (read later) has lag 0, never negative', () => {
    const answers = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('0/1000'), pid: null }],
      ['node2', { probe: standbyProbe('0/2000', '127.0.0.11'), pid: null }],
      ['node3', { probe: standbyProbe('0/1000', '127.0.0.11'), pid: null }],
    ]);
    expect(byName(decideTopology(config, answers)).node2.lagBytes).toBe(0);
  });

  it('a standby without a replay LSN has no lag', () => {
    const answers = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('0/1000'), pid: null }],
      ['node2', { probe: standbyProbe(null, '127.0.0.11'), pid: null }],
      ['node3', { probe: standbyProbe('0/1000', '127.0.0.11'), pid: null }],
    ]);
    expect(byName(decideTopology(config, answers)).node2.lagBytes).toBeNull();
  });

  it('upstream is the node whose host is the sender host; a standby not streaming (or from elsewhere) has none', () => {
    const answers = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('0/3000'), pid: null }],
      ['node2', { probe: standbyProbe('0/3000', '127.0.0.13'), pid: null }], // cascading from node3
      ['node3', { probe: standbyProbe('0/3000', null), pid: null }],
    ]);
    const n = byName(decideTopology(config, answers));
    expect(n.node2.upstream).toBe('node3');
    expect(n.node3.upstream).toBeNull();
    expect(n.node3.role).toBe('standby');
    const elsewhere = new Map(answers).set('node2', { probe: standbyProbe('0/3000', '10.9.9.9'), pid: null });
    expect(byName(decideTopology(config, elsewhere)).node2.upstream).toBeNull();
  });

  it.each([
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.12:5432'],
    ['ENOENT', 'connect ENOENT /tmp/.s.PGSQL.5432'],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH 127.0.0.12:5432'],
    ['ETIMEDOUT', 'connect ETIMEDOUT 127.0.0.12:5432'],
    ['57P03', 'the database system is starting up'],
  ])('an error with code %s: role down, with the message', (code, message) => {
    const answers = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('0/3000'), pid: 1 }],
      ['node2', { error: err(message, code), pid: null }],
      ['node3', { probe: standbyProbe('0/3000', '127.0.0.11'), pid: 3 }],
    ]);
    const n = byName(decideTopology(config, answers));
    expect(n.node2).toEqual({ name: 'node2', host: '127.0.0.12', port: 5432, pid: null, role: 'down', upstream: null, timeline: null, lagBytes: null, lsn: null, error: message });
    // the others are unaffected
    expect(n.node1.role).toBe('primary');
    expect(n.node3.role).toBe('standby');
  });

  it('a timeout or terminated connection without a code is down too', () => {
    for (const message of ['Connection terminated due to connection timeout', 'Connection terminated unexpectedly', 'query read timeout']) {
      const answers = new Map<string, Answer>([
        ['node1', { probe: primaryProbe('0/3000'), pid: null }],
        ['node2', { error: err(message), pid: null }],
        ['node3', { probe: standbyProbe('0/3000', '127.0.0.11'), pid: null }],
      ]);
      expect(byName(decideTopology(config, answers)).node2.role).toBe('down');
    }
  });

  it('an authentication error: role unknown (the node runs but does not let us in)', () => {
    const message = 'password authentication failed for user "repmgr"';
    const answers = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('0/3000'), pid: null }],
      ['node2', { error: err(message, '28P01'), pid: 4242 }],
      ['node3', { probe: standbyProbe('0/3000', '127.0.0.11'), pid: null }],
    ]);
    const n = byName(decideTopology(config, answers));
    expect(n.node2.role).toBe('unknown');
    expect(n.node2.error).toBe(message);
    expect(n.node2.pid).toBe(4242);
    expect(n.node2.timeline).toBeNull();
    expect(n.node2.lagBytes).toBeNull();
  });

  it('two nodes out of recovery: both unknown, the error says 2 nodes accept writes, standby lags unknown', () => {
    const answers = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('0/5000', 1), pid: null }],
      ['node2', { probe: primaryProbe('0/6000', 2), pid: null }],
      ['node3', { probe: standbyProbe('0/5000', '127.0.0.12', 2), pid: null }],
    ]);
    const n = byName(decideTopology(config, answers));
    for (const name of ['node1', 'node2']) {
      expect(n[name].role).toBe('unknown');
      expect(n[name].error).toMatch(/2 nodes accept writes/);
      expect(n[name].lagBytes).toBeNull();
    }
    expect(n.node1.timeline).toBe(1);
    expect(n.node2.timeline).toBe(2);
    expect(n.node3.role).toBe('standby');
    expect(n.node3.upstream).toBe('node2');
    expect(n.node3.lagBytes).toBeNull();
    expect(decideTopology(config, answers).filter((s) => s.role === 'primary')).toHaveLength(0);
  });

  it('three nodes out of recovery: all unknown, "3 nodes accept writes"', () => {
    const answers = new Map<string, Answer>(['node1', 'node2', 'node3'].map((name) => [name, { probe: primaryProbe('0/1'), pid: null }]));
    for (const s of decideTopology(config, answers)) {
      expect(s.role).toBe('unknown');
      expect(s.error).toBe('3 nodes accept writes');
    }
  });

  it('no primary reachable: standbys keep their role and upstream but have no lag', () => {
    const answers = new Map<string, Answer>([
      ['node1', { error: err('connect ECONNREFUSED', 'ECONNREFUSED'), pid: null }],
      ['node2', { probe: standbyProbe('0/5000', '127.0.0.11'), pid: null }],
      ['node3', { probe: standbyProbe('0/5000', '127.0.0.11'), pid: null }],
    ]);
    const n = byName(decideTopology(config, answers));
    expect(n.node1.role).toBe('down');
    expect(n.node2).toMatchObject({ role: 'standby', upstream: 'node1', lagBytes: null });
  });

  it('uses the configured consumer port and keeps the config\'s node order', () => {
    const cfg = localConfig({ postgres: { port: 6000, technicalPort: 6001 } });
    const answers = new Map<string, Answer>([
      ['node3', { probe: standbyProbe('0/1', '127.0.0.11'), pid: null }],
      ['node2', { probe: standbyProbe('0/1', '127.0.0.11'), pid: null }],
      ['node1', { probe: primaryProbe('0/1'), pid: null }],
    ]);
    const nodes = decideTopology(cfg, answers);
    expect(nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    for (const n of nodes) expect(n.port).toBe(6000);
  });
});

describe('formatStatusTable', () => {
  it('one row per node with "-" for missing values, then the barman line', () => {
    const config = localConfig();
    const nodes = decideTopology(
      config,
      new Map<string, Answer>([
        ['node1', { probe: primaryProbe('0/100', 3), pid: 11 }],
        ['node2', { probe: standbyProbe('0/80', '127.0.0.11', 3), pid: 12 }],
        ['node3', { error: err('connect ECONNREFUSED', 'ECONNREFUSED'), pid: null }],
      ]),
    );
    const out = formatStatusTable({ cluster: 'pgha', nodes, barman: { backups: [] } }).split('\n');
    expect(out[0]).toBe('cluster pgha');
    expect(out[1].split(/\s+/)).toEqual(['NODE', 'HOST', 'PORT', 'ROLE', 'UPSTREAM', 'TIMELINE', 'LAG', 'BYTES', 'PID']);
    expect(out[2].split(/\s+/)).toEqual(['node1', '127.0.0.11', '5432', 'primary', '-', '3', '0', '11']);
    expect(out[3].split(/\s+/)).toEqual(['node2', '127.0.0.12', '5432', 'standby', 'node1', '3', '128', '12']);
    expect(out[4].split(/\s+/)).toEqual(['node3', '127.0.0.13', '5432', 'down', '-', '-', '-', '-']);
    expect(out).toContain('barman: no backups yet');
  });
});

describe('clusterViewOf: what each node answered, as every rule reads it', () => {
  const config = localConfig();
  it('standbys with their furthest and replayed LSN and upstream, a down node not answering, two writable nodes both writable', () => {
    const answers = new Map<string, Answer>([
      ['node1', { error: err('connect ECONNREFUSED', 'ECONNREFUSED'), pid: null }],
      ['node2', { probe: { ...standbyProbe('0/3000000', null, 2), receivedLsn: '0/3000100' }, pid: 2 }],
      ['node3', { probe: standbyProbe('0/2000000', '127.0.0.12', 2), pid: 3 }],
    ]);
    expect(viewOf(config, answers).nodes).toEqual([
      { name: 'node1', answeredAt: null, error: 'connect ECONNREFUSED', down: true, refused: true },
      { name: 'node2', answeredAt: 1000, writable: false, timeline: 2, timelineTaken: null, lsn: 0x3000100n, replayLsn: 0x3000000n, upstream: null, repmgrPrimaries: ['node1'], repmgrdPaused: false, startedAt: 0 },
      { name: 'node3', answeredAt: 1000, writable: false, timeline: 2, timelineTaken: null, lsn: 0x2000000n, replayLsn: 0x2000000n, upstream: 'node2', repmgrPrimaries: ['node1'], repmgrdPaused: false, startedAt: 0 },
    ]);
    const split = new Map<string, Answer>([
      ['node1', { probe: primaryProbe('0/5000000', 2), pid: 1 }],
      ['node2', { probe: primaryProbe('0/5000000', 3), pid: 2 }],
      ['node3', { probe: standbyProbe('0/2000000', null, 2), pid: 3 }],
    ]);
    expect(viewOf(config, split).nodes.map((n) => [n.name, n.answeredAt !== null, n.writable])).toEqual([
      ['node1', true, true],
      ['node2', true, true],
      ['node3', true, false],
    ]);
  });
});

describe('failoverState: automatic failover paused is said loudly, with who and since when', () => {
  const node = (name: string, repmgrdPaused: boolean | undefined): NodeStatus => ({ name, host: '127.0.0.1', port: 5432, role: repmgrdPaused === undefined ? 'down' : 'standby', upstream: null, timeline: 1, lagBytes: 0, lsn: null, pid: null, ...(repmgrdPaused === undefined ? {} : { repmgrdPaused }) });
  const pause = { flowId: 'pgha-restart-node2-1', at: '2026-12-01T05:00:00.000Z' };

  it('no node paused: on (a stale record of a finished flow is ignored)', () => {
    expect(failoverState([node('node1', false), node('node2', undefined)], pause, null)).toEqual({ paused: false, pausedOn: [], by: null, maintenance: null, message: 'automatic failover on' });
  });

  it('maintenance mode (pgha pause) is said first, with who, why, since when and what ends it; a flow holding the pause too is named', () => {
    const m = { by: 'dba@db1', reason: 'kernel upgrade', since: '2026-12-01T04:00:00.000Z', flowId: 'pgha-pause-1' };
    const f = failoverState([node('node1', true), node('node2', true)], null, null, true, m);
    expect(f).toMatchObject({ paused: true, pausedOn: ['node1', 'node2'], by: null, maintenance: m });
    expect(f.message).toBe(
      'automatic failover PAUSED for maintenance mode since 2026-12-01T04:00:00.000Z by dba@db1 (kernel upgrade) (repmgrd paused on node1, node2): ' +
        'no standby is promoted by itself and no primary is fenced for lack of standbys; pgha resume ends it',
    );
    expect(failoverState([node('node1', true)], pause, { state: 'running', step: 'stop-postgres' }, true, m).message).toMatch(/; flow pgha-restart-node2-1 holds the pause too$/);
    // the record is there but every node restarted (the pause lives in shared memory): not paused, and said so
    const unpaused = failoverState([node('node1', false), node('node2', false)], null, null, true, m);
    expect(unpaused).toMatchObject({ paused: false, maintenance: m, message: expect.stringMatching(/^maintenance mode since .* but no node answers with repmgrd paused yet: each node's worker pauses it again within 5 s/) });
    expect(formatStatusTable({ cluster: 'pgha', nodes: [node('node1', false)], barman: { backups: [] }, automaticFailover: unpaused })).toContain(unpaused.message);
  });

  it('paused by a flow that FAILED (failing input 2): names the flow, its failed step and what resumes it', () => {
    const f = failoverState([node('node1', true), node('node2', true), node('node3', undefined)], pause, { state: 'failed', step: 'ensure-follows' });
    expect(f).toMatchObject({ paused: true, pausedOn: ['node1', 'node2'], by: { flowId: pause.flowId, since: pause.at, state: 'failed', step: 'ensure-follows' } });
    expect(f.message).toBe(
      'automatic failover PAUSED (repmgrd paused on node1, node2) since 2026-12-01T05:00:00.000Z by flow pgha-restart-node2-1, which FAILED at step ensure-follows: ' +
        'retry that step in the dashboard (Bull Board) to finish the flow, whose last step resumes failover; no standby is promoted by itself meanwhile',
    );
  });

  it('paused by a flow still running: names it and its step', () => {
    expect(failoverState([node('node1', true)], pause, { state: 'running', step: 'stop-postgres' }).message).toMatch(/by flow pgha-restart-node2-1 \(running, at step stop-postgres\)/);
  });

  it('paused, and the recorded flow completed (a restore has no resume step): not that flow\'s pause', () => {
    expect(failoverState([node('node1', true)], pause, { state: 'completed', step: null })).toMatchObject({ paused: true, by: null, message: expect.stringMatching(/not by a pgha flow/) });
  });

  it('paused without a pgha record (by hand), or Redis silent: says so', () => {
    expect(failoverState([node('node1', true)], null, null).message).toMatch(/not by a pgha flow: no standby is promoted by itself until repmgrd is unpaused/);
    expect(failoverState([node('node1', true)], null, null, false).message).toMatch(/by whom is unknown \(Redis did not answer\)/);
  });

  it('the status table carries the line when paused, and not otherwise', () => {
    const paused = failoverState([node('node1', true)], pause, { state: 'failed', step: 'decide-and-start' });
    const nodes = [node('node1', true)];
    expect(formatStatusTable({ cluster: 'pgha', nodes, barman: { backups: [] }, automaticFailover: paused })).toContain(paused.message);
    expect(formatStatusTable({ cluster: 'pgha', nodes, barman: { backups: [] }, automaticFailover: failoverState([node('node1', false)], null, null) })).not.toContain('automatic failover');
  });
});

describe('majorityPrimary: the one writable node, while a majority answered', () => {
  const n = (name: string, role: 'primary' | 'standby' | 'down'): NodeView => (role === 'down' ? { name, answeredAt: null, down: true } : { name, answeredAt: 1, writable: role === 'primary', timeline: 1 });
  const v = (...nodes: NodeView[]) => ({ nodes });
  it('one primary and a majority answering: that node; a lone primary, none, or two writable: null', () => {
    expect(majorityPrimary(v(n('node1', 'primary'), n('node2', 'standby'), n('node3', 'down')))?.name).toBe('node1');
    expect(majorityPrimary(v(n('node1', 'primary'), n('node2', 'down'), n('node3', 'down')))).toBeNull();
    expect(majorityPrimary(v(n('node1', 'standby'), n('node2', 'standby'), n('node3', 'down')))).toBeNull();
    expect(majorityPrimary(v(n('node1', 'primary'), n('node2', 'primary'), n('node3', 'standby')))).toBeNull();
    // 4 nodes: 2 answering are no majority
    expect(majorityPrimary(v(n('node1', 'primary'), n('node2', 'standby'), n('node3', 'down'), n('node4', 'down')))).toBeNull();
  });
});
