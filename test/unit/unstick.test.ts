import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { silenceStep, socketsOfPid, UNSTICK_AFTER_MS, type SilenceState } from '../../src/repmgr/unstick.js';
import { REPMGR_CONNECT_TIMEOUT_SECS } from '../../src/roles/fence.js';
import { checkPromotion, type Connect } from '../../src/repmgr/validate.js';
import type pg from 'pg';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { destroyRepmgrdConnections, repmgrdPidOf, startRepmgrd } from '../../src/repmgr/actions.js';
import { nodePaths } from '../../src/config/paths.js';
import type { NodeContext } from '../../src/postgres/actions.js';
import type { Runner } from '../../src/exec/runner.js';
import { localConfig } from './helpers.js';

describe('silenceStep: which nodes have left the probes unanswered long enough', () => {
  it('counted from the sending of the first unanswered probe: a probe that waited out its 2 s timeout names the node at once, and every round after while it lasts', () => {
    const a = silenceStep({}, { node1: false, node3: true }, 1000, 1000 + UNSTICK_AFTER_MS);
    expect(a).toEqual({ state: { node1: 1000, node3: null }, silent: ['node1'] });
    expect(silenceStep(a.state, { node1: false, node3: true }, 6000, 6010).silent).toEqual(['node1']);
  });

  it('a quick failure (a refused connection) is not silence yet; the next round counts from the first', () => {
    const a = silenceStep({}, { node1: false }, 1000, 1005);
    expect(a).toEqual({ state: { node1: 1000 }, silent: [] });
    expect(silenceStep(a.state, { node1: false }, 1000 + UNSTICK_AFTER_MS - 10, 1000 + UNSTICK_AFTER_MS - 1).silent).toEqual([]);
    expect(silenceStep(a.state, { node1: false }, 6000, 6005).silent).toEqual(['node1']);
  });

  it('one answer starts the count again', () => {
    const a = silenceStep({ node1: 0 }, { node1: true }, 10_000, 10_001);
    expect(a).toEqual({ state: { node1: null }, silent: [] });
    expect(silenceStep(a.state, { node1: false }, 10_001, 10_002).silent).toEqual([]);
  });

  it('gives a node as long as repmgrd\'s own ping does (connect_timeout)', () => {
    expect(UNSTICK_AFTER_MS).toBe(REPMGR_CONNECT_TIMEOUT_SECS * 1000);
  });

  it('property: a node is named exactly when every round since at least afterMs ago failed', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 2500 }), fc.boolean()), { minLength: 1, maxLength: 30 }), (rounds) => {
        let state: SilenceState = {};
        let now = 0;
        const history: { at: number; ok: boolean }[] = [];
        for (const [gap, took, ok] of rounds) {
          const sentAt = now + gap;
          now = sentAt + took;
          history.push({ at: sentAt, ok });
          const r = silenceStep(state, { node1: ok }, sentAt, now);
          state = r.state;
          // the first failed round of the current run of failures
          let i = history.length;
          while (i > 0 && !history[i - 1].ok) i--;
          const since = i < history.length ? history[i].at : null;
          expect(r.silent.includes('node1')).toBe(since !== null && now - since >= UNSTICK_AFTER_MS);
        }
      }),
    );
  });
});

describe('socketsOfPid: the local ports of one process in ss -tnpH output', () => {
  const out = [
    '0      0      127.0.0.1:58444 127.0.61.12:5432 users:(("repmgrd",pid=21399,fd=7)) ',
    '0      0      127.0.0.1:58500 127.0.61.12:5432 users:(("repmgrd",pid=21399,fd=6)) ',
    '0      0      127.0.0.1:58510 127.0.61.12:5432 users:(("repmgrd",pid=213990,fd=6)) ',
    '0      0      [::1]:40000 [::1]:5432 users:(("node",pid=7,fd=3),("repmgrd",pid=21399,fd=9)) ',
    '',
  ].join('\n');

  it('takes its lines only (another pid that starts with the same digits is not it), IPv6 too', () => {
    expect(socketsOfPid(out, 21399)).toEqual([58444, 58500, 40000]);
    expect(socketsOfPid(out, 7)).toEqual([40000]);
    expect(socketsOfPid(out, 1)).toEqual([]);
    expect(socketsOfPid('', 21399)).toEqual([]);
  });
});

describe('checkPromotion with a frozen old primary', () => {
  // a fake node: `frozen` never answers a connection (it fails after the timeout); others answer readProbe and detach
  // `taken`: a node's timeline_taken (history files, reservation); `refuseReservation`: its ALTER SYSTEM of the reservation fails;
  // `existing`: history files the candidate has
  const fake = (recovery: Record<string, boolean>, frozen: Set<string>, queries: string[], o: { taken?: Record<string, number>; refuseReservation?: Set<string>; existing?: Set<string>; held?: Record<string, number>; refuseDetach?: Set<string> } = {}): Connect => async (n) => {
    queries.push(`${n.name}: connect`);
    if (frozen.has(n.name)) throw new Error('timeout expired');
    return {
      async query(sql: string, params?: unknown[]) {
        queries.push(`${n.name}: ${sql.trim().split(/\s+/).slice(0, 4).join(' ')}`);
        if (/pg_is_in_recovery\(\) AS r$/.test(sql.trim())) return { rows: [{ r: recovery[n.name] }] };
        if (/pg_stat_wal_receiver WHERE pid/.test(sql)) return { rows: [{ n: 0 }] };
        if (/^ALTER SYSTEM SET primary_conninfo/.test(sql) && o.refuseDetach?.has(n.name)) throw new Error('permission denied');
        if (/^ALTER SYSTEM SET pgha\.reserved_timeline/.test(sql) && o.refuseReservation?.has(n.name)) throw new Error('connection lost');
        if (/ALTER SYSTEM|pg_reload_conf|^COPY|pg_advisory|^SET /.test(sql.trim())) return { rows: [] };
        if (/^SELECT max\(setting::int\) AS t/.test(sql.trim())) return { rows: [{ t: o.held?.[n.name] ?? null }] };
        if (/data_directory/.test(sql)) return { rows: [{ d: '/data' }] };
        if (/pg_stat_file/.test(sql)) return { rows: [{ e: o.existing?.has(String(params?.[0])) ?? false }] };
        return { rows: [{ recovery: recovery[n.name], lsn: '0/3000000', received_lsn: '0/3000000', timeline: 1, timeline_taken: o.taken?.[n.name] ?? null, sender_host: null, repmgr_primaries: ['node1'], repmgrd_paused: false, started_at: '0' }] };
      },
      escapeLiteral: (s: string) => `'${s.replace(/'/g, "''")}'`,
      async end() {},
    } as unknown as pg.Client;
  };

  it('detaches only the siblings that answered as standbys; the frozen one is not tried for a detach (another timeout) and counts as unreachable', async () => {
    const queries: string[] = [];
    const nodes = ['node1', 'node2', 'node3'].map((name, i) => ({ name, host: `127.0.0.${11 + i}`, port: 5432 }));
    const d = await checkPromotion({ candidate: 'node2', nodes, connect: fake({ node2: true, node3: true }, new Set(['node1']), queries) });
    expect(d).toMatchObject({ ok: true, forced: false });
    expect(d.reason).toMatch(/2 of 3 nodes that answer.*detached from their upstream: node3; timeline 2 reserved on (node2, node3|node3, node2), a majority$/);
    expect(queries.filter((q) => q.includes('ALTER SYSTEM')).sort()).toEqual([
      'node2: ALTER SYSTEM SET pgha.reserved_timeline',
      'node3: ALTER SYSTEM SET pgha.reserved_timeline',
      'node3: ALTER SYSTEM SET primary_conninfo',
    ]);
    // read before and after the detach, never tried for a detach (each try waits out its timeout), nor for the reservation
    expect(queries.filter((q) => q.startsWith('node1'))).toEqual(['node1: connect', 'node1: connect']);
  });

  it('the failover claimed by another (a node worker\'s detector, or repmgrd): refused before anything changes, retryable; claimed by this caller or not askable: goes on', async () => {
    const nodes = ['node1', 'node2', 'node3'].map((name, i) => ({ name, host: `127.0.0.${11 + i}`, port: 5432 }));
    const queries: string[] = [];
    const asked: (number | null)[] = [];
    const refused = await checkPromotion({ candidate: 'node3', nodes, connect: fake({ node2: true, node3: true }, new Set(['node1']), queries), claim: async (t) => (asked.push(t), 'pgha-failover-node2-from-node1-1') });
    expect(refused).toMatchObject({ ok: false, retryable: true, forceable: false, reason: 'this failover is already claimed by pgha-failover-node2-from-node1-1: no second promotion' });
    // keyed by the candidate's timeline; nothing detached, nothing reserved
    expect(asked).toEqual([1]);
    expect(queries.filter((q) => q.includes('ALTER SYSTEM'))).toEqual([]);
    const released: (number | null)[] = [];
    const ok = await checkPromotion({ candidate: 'node3', nodes, connect: fake({ node2: true, node3: true }, new Set(['node1']), []), claim: async () => null, release: async (t) => void released.push(t) });
    expect(ok).toMatchObject({ ok: true });
    expect(released).toEqual([]);
    // claimed, then refused (the reservation reached no majority): the claim is dropped, so another candidate may go ahead
    const refusedLater = await checkPromotion({ candidate: 'node3', nodes, connect: fake({ node2: true, node3: true }, new Set(['node1']), [], { refuseReservation: new Set(['node2', 'node3']) }), claim: async () => null, release: async (t) => void released.push(t) });
    expect(refusedLater).toMatchObject({ ok: false, retryable: true });
    expect(released).toEqual([1]);
  });

  it('a sibling that knows a higher timeline (input 8): the number above it is reserved, and the candidate gets placeholders for those between that it lacks', async () => {
    const queries: string[] = [];
    const nodes = ['node1', 'node2', 'node3'].map((name, i) => ({ name, host: `127.0.0.${11 + i}`, port: 5432 }));
    const d = await checkPromotion({ candidate: 'node2', nodes, connect: fake({ node2: true, node3: true }, new Set(['node1']), queries, { taken: { node3: 4 }, existing: new Set(['pg_wal/00000003.history']) }) });
    expect(d).toMatchObject({ ok: true });
    expect(d.reason).toMatch(/timeline 5 reserved on .*, a majority \(node3 knows timeline 4\); placeholder history files for 2, 3, 4$/);
    // only the candidate writes placeholders, and only those it lacks (3 exists)
    expect(queries.filter((q) => q.includes('COPY'))).toEqual([`node2: COPY (SELECT 1, '0/0',`, `node2: COPY (SELECT 3, '0/0',`]);
  });

  it('a reservation that reaches no majority refuses the promotion (a retry, not --force: it says nothing against the candidate) and writes no placeholder; --force promotes anyway and says where it was recorded', async () => {
    const nodes = ['node1', 'node2', 'node3'].map((name, i) => ({ name, host: `127.0.0.${11 + i}`, port: 5432 }));
    const queries: string[] = [];
    const refused = await checkPromotion({ candidate: 'node2', nodes, connect: fake({ node2: true, node3: true }, new Set(['node1']), queries, { refuseReservation: new Set(['node3']), taken: { node3: 3 } }) });
    expect(refused).toMatchObject({ ok: false, forceable: false, reason: expect.stringMatching(/^timeline 4 could be reserved only on node2, not on a majority .*; retry/) });
    expect(queries.filter((q) => q.includes('COPY'))).toEqual([]);
    const forced = await checkPromotion({ candidate: 'node2', nodes, force: true, connect: fake({ node2: true, node3: true }, new Set(['node1']), [], { refuseReservation: new Set(['node3']) }) });
    expect(forced).toMatchObject({ ok: true, reason: expect.stringMatching(/timeline 2 reserved on node2, NOT a majority$/) });
  });

  it('a sibling that answered the first read but could not be detached still lends what it knows to the plan (it is not counted for the majority)', async () => {
    const nodes = ['node1', 'node2', 'node3', 'node4', 'node5'].map((name, i) => ({ name, host: `127.0.0.${11 + i}`, port: 5432 }));
    const d = await checkPromotion({ candidate: 'node2', nodes, force: false, connect: fake({ node2: true, node3: true, node4: true, node5: true }, new Set(['node1']), [], { taken: { node3: 7 }, refuseDetach: new Set(['node3']) }) });
    expect(d).toMatchObject({ ok: true, timeline: 8 });
    expect(d.reason).toMatch(/timeline 8 reserved on node2, node4, node5, a majority \(node3 knows timeline 7\)/);
  });

  it('a node that already holds the planned number or more (another promotion reserving at the same moment) does not count, and its reservation is never lowered', async () => {
    const nodes = ['node1', 'node2', 'node3'].map((name, i) => ({ name, host: `127.0.0.${11 + i}`, port: 5432 }));
    const queries: string[] = [];
    const d = await checkPromotion({ candidate: 'node2', nodes, connect: fake({ node2: true, node3: true }, new Set(['node1']), queries, { held: { node3: 2 } }) });
    expect(d).toMatchObject({ ok: false, forceable: false, reason: expect.stringMatching(/^timeline 2 could be reserved only on node2, not on a majority \(.*already higher: node3 holds 2\)/) });
    expect(queries).not.toContain('node3: ALTER SYSTEM SET pgha.reserved_timeline');
    // read and raised under the advisory lock, released after
    expect(queries.filter((q) => q.startsWith('node3: SELECT pg_advisory'))).toEqual(['node3: SELECT pg_advisory_lock($1)', 'node3: SELECT pg_advisory_unlock($1)']);
  });
});

/** A stand-in repmgrd: a process whose command line is repmgrd's with this node's config (sh keeps its arguments). */
async function fakeRepmgrd(conf: string) {
  const child = spawn('sh', ['-c', 'sleep 60; :', '/usr/lib/postgresql/15/bin/repmgrd', '-f', conf], { stdio: 'ignore' });
  // until the child has exec'd (before that, /proc shows this process's command line)
  const deadline = Date.now() + 5000;
  while (!readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes('repmgrd')) {
    if (Date.now() > deadline) throw new Error('the stand-in repmgrd did not start');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { pid: child.pid!, stop: () => child.kill('SIGKILL') };
}

/** A node of a temporary state folder, its repmgrd pid file naming `pid`. */
function nodeWithPidFile(pid: number | null) {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-unstick-'));
  const config = localConfig({ stateDir: dir });
  const node = config.nodes[1];
  mkdirSync(dirname(nodePaths(config, node).repmgrdPid), { recursive: true });
  if (pid !== null) writeFileSync(nodePaths(config, node).repmgrdPid, `${pid}\n`);
  return { config, node, done: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('repmgrdPidOf: only a live repmgrd of this node counts', () => {
  it('the pid file\'s process must be repmgrd with this node\'s config: a pid reused by another process after a kill -9 is not', async () => {
    const n = nodeWithPidFile(null);
    const r = await fakeRepmgrd(nodePaths(n.config, n.node).repmgrConf);
    const other = await fakeRepmgrd('/elsewhere/repmgr.conf');
    try {
      writeFileSync(nodePaths(n.config, n.node).repmgrdPid, `${r.pid}\n`);
      expect(repmgrdPidOf(n.config, n.node)).toBe(r.pid);
      writeFileSync(nodePaths(n.config, n.node).repmgrdPid, `${process.pid}\n`);
      expect(repmgrdPidOf(n.config, n.node)).toBeUndefined();
      writeFileSync(nodePaths(n.config, n.node).repmgrdPid, `${other.pid}\n`);
      expect(repmgrdPidOf(n.config, n.node)).toBeUndefined();
    } finally {
      r.stop();
      other.stop();
      n.done();
    }
  });

  it('startRepmgrd removes a stale pid file first (repmgrd refuses to start while the pid in it is alive), then returns the new repmgrd', async () => {
    const n = nodeWithPidFile(process.pid);
    const conf = nodePaths(n.config, n.node).repmgrConf;
    let started: Awaited<ReturnType<typeof fakeRepmgrd>> | undefined;
    const seen: boolean[] = [];
    const run = {
      async run(cmd: string) {
        seen.push(existsSync(nodePaths(n.config, n.node).repmgrdPid));
        started = await fakeRepmgrd(conf);
        writeFileSync(nodePaths(n.config, n.node).repmgrdPid, String(started.pid));
        return { command: cmd, exitCode: 0, durationMs: 1, stdout: '', stderr: '' };
      },
    } as unknown as Runner;
    try {
      const pid = await startRepmgrd({ config: n.config, node: n.node, run, log: () => {} });
      expect(seen).toEqual([false]);
      expect(pid).toBe(started!.pid);
    } finally {
      started?.stop();
      n.done();
    }
  });
});

describe('destroyRepmgrdConnections: what ss -K destroyed, not what it was asked to', () => {
  // repmgrd is a stand-in process; ss is a stand-in answering as iproute2 6.1 does
  const setup = async (kill: { stdout: string; stderr: string }) => {
    const n = nodeWithPidFile(null);
    const repmgrd = await fakeRepmgrd(nodePaths(n.config, n.node).repmgrConf);
    writeFileSync(nodePaths(n.config, n.node).repmgrdPid, `${repmgrd.pid}\n`);
    const calls: string[][] = [];
    const run = {
      async run(cmd: string, args: string[]) {
        calls.push([cmd, ...args]);
        if (args[0] === '-K') return { command: cmd, exitCode: 0, durationMs: 1, ...kill };
        return { command: cmd, exitCode: 0, durationMs: 1, stderr: '', stdout: `0 0 127.0.0.1:58444 127.0.0.11:5432 users:(("repmgrd",pid=${repmgrd.pid},fd=7))\n0 0 127.0.0.1:58450 127.0.0.11:5432 users:(("node",pid=1,fd=9))\n` };
      },
    } as unknown as Runner;
    return { nc: { config: n.config, node: n.node, run, log: () => {} } as NodeContext, calls, done: () => { repmgrd.stop(); n.done(); } };
  };

  it('destroys repmgrd\'s own connection only, and counts what ss printed', async () => {
    const t = await setup({ stdout: '0 0 127.0.0.1:58444 127.0.0.11:5432\n', stderr: '' });
    try {
      expect(await destroyRepmgrdConnections(t.nc, '127.0.0.11', 5432)).toBe(1);
      expect(t.calls[1]).toEqual(['ss', '-K', '-tnH', 'state', 'established', 'dst', '127.0.0.11', 'dport', '=', '5432', 'sport', '=', '58444']);
      expect(t.calls).toHaveLength(2);
    } finally {
      t.done();
    }
  });

  it('not permitted (ss -K still exits 0): throws with ss\'s own words instead of claiming success', async () => {
    const t = await setup({ stdout: '', stderr: 'SOCK_DESTROY answers: Operation not permitted' });
    try {
      await expect(destroyRepmgrdConnections(t.nc, '127.0.0.11', 5432)).rejects.toThrow(/destroyed none of repmgrd's 1 connection\(s\) to 127\.0\.0\.11:5432 \(SOCK_DESTROY answers: Operation not permitted\)/);
    } finally {
      t.done();
    }
  });
});
