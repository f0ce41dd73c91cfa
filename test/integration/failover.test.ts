// Destructive: restarts, automatic failover under writes, the old primary's return, switchover, and a
// primary that cannot prove it is the primary. One cluster, its own addresses; the tests run in order.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisConnection } from '../../src/redis.js';
import { nodePaths, barmanPaths } from '../../src/config/paths.js';
import { barmanQueueName, nodeQueueName } from '../../src/queues.js';
import { postmasterStatus } from '../../src/postgres/actions.js';
import { fencedWithinMs } from '../../src/roles/fence.js';
import { isAlive, readPidFile } from '../../src/fsutil.js';
import { layout } from '../../src/local/cluster.js';
import { recentFlowRecords } from '../../src/flows/registry.js';
import { catalogue } from '../../src/barman/actions.js';
import { cli, insertStream, splitBrainSampler, sqlTo, testCluster, waitFor, writablePrimaries, type TestCluster, streamsFrom as streamsFromOf } from './harness.js';

let tc: TestCluster;
let redis: Redis;
const cfg = () => tc.config();

const systemId = async (node: string) => {
  const p = nodePaths(cfg(), node);
  const r = await execa('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_controldata', '-D', p.dataDir], { env: { LC_ALL: 'C' } });
  return /Database system identifier:\s+(\d+)/.exec(r.stdout)![1];
};
const asideDirs = (node: string) => readdirSync(cfg().postgres.dataDir).filter((d) => d.startsWith(`${node}.aside-`));

/** The return value of the newest decide-and-start job of a node (its restart decision). */
async function lastDecision(node: string): Promise<any> {
  const q = new Queue(nodeQueueName(cfg().cluster, node), { connection: redis });
  try {
    const jobs = (await q.getJobs(['completed'], 0, 200)).filter((j) => j.name === 'decide-and-start');
    jobs.sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0));
    return jobs[0]?.returnvalue;
  } finally {
    await q.close();
  }
}

const streamsFrom = (node: string) => streamsFromOf(cfg(), node);

beforeAll(async () => {
  // repmgr's backstop fence after 5 s without a streaming standby (30 s by default), so that its test is short
  tc = await testCluster('failover', '127.0.8.11', { config: (raw) => void (raw.repmgr = { ...raw.repmgr, fenceAfterSecs: 5 }) });
  const up = await cli(['local', 'up', ...tc.args]);
  expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
  redis = redisConnection(cfg().redis);
  redis.on('error', () => {});
  const c = await sqlTo(cfg(), 'node1');
  await c.query('CREATE TABLE stream (k bigint PRIMARY KEY, at timestamptz DEFAULT now())');
  await c.end();
}, 600_000);

afterAll(async () => {
  redis?.disconnect();
  await tc?.destroy();
}, 300_000);

describe('restarts', () => {
  it('a standby restarted comes back as a standby, streaming, without a re-clone', async () => {
    const idBefore = await systemId('node3');
    const cloneMarker = join(nodePaths(cfg(), 'node3').stateDir, 'clone.done');
    const cloneTime = statSync(cloneMarker).mtimeMs;
    expect((await cli(['local', 'kill', 'node3', '--dir', tc.dir])).exitCode).toBe(0);
    expect(postmasterStatus(nodePaths(cfg(), 'node3').dataDir)).toBeUndefined();
    // the socket folder went with the host (/var/run is a tmpfs: a reboot, or a recreated container, empties it)
    rmSync(nodePaths(cfg(), 'node3').socketDir, { recursive: true, force: true });
    const start = await cli(['local', 'start', 'node3', '--dir', tc.dir]);
    if (start.exitCode !== 0) console.log(start.all);
    expect({ code: start.exitCode, out: start.all }).toMatchObject({ code: 0 });
    expect(await lastDecision('node3')).toMatchObject({ action: 'start-standby', upstream: 'node1' });
    await waitFor('node3 streams from node1', async () => (await streamsFrom('node3')) === 'node1', 30_000);
    expect(await systemId('node3')).toBe(idBefore);
    expect(statSync(cloneMarker).mtimeMs).toBe(cloneTime);
    expect(asideDirs('node3')).toEqual([]);
    // started again while it runs: answered at once from the flow it booted with (before: a 30 s wait, then "did not boot", exit 1)
    const again = Date.now();
    const twice = await cli(['local', 'start', 'node3', '--dir', tc.dir]);
    expect({ code: twice.exitCode, out: twice.all }).toMatchObject({ code: 0 });
    expect(twice.all).toMatch(/node3's worker already runs \(pid \d+\)/);
    expect(twice.all).toMatch(/node3 runs: start-standby/);
    expect(Date.now() - again).toBeLessThan(20_000);
  });

  it('a primary killed and started again before any failover (repmgrd paused) is the primary again, standbys stream from it', async () => {
    const p = nodePaths(cfg(), 'node1');
    const pause = await execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${p.passfile}`, 'repmgr', '-f', p.repmgrConf, 'service', 'pause'], { reject: false });
    expect(pause.exitCode).toBe(0);
    try {
      expect((await cli(['local', 'kill', 'node1', '--dir', tc.dir])).exitCode).toBe(0);
      const start = await cli(['local', 'start', 'node1', '--dir', tc.dir]);
      expect({ code: start.exitCode, out: start.all }).toMatchObject({ code: 0 });
      expect(await lastDecision('node1')).toMatchObject({ action: 'start-primary' });
      expect(await writablePrimaries(cfg())).toEqual(['node1']);
      for (const n of ['node2', 'node3']) await waitFor(`${n} streams from node1`, async () => (await streamsFrom(n)) === 'node1', 30_000);
    } finally {
      await execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${p.passfile}`, 'repmgr', '-f', p.repmgrConf, 'service', 'unpause'], { reject: false });
    }
  });
});

describe('automatic failover and the old primary\'s return', () => {
  let killedAt = 0;
  let firstAckOnNew = 0;
  let newPrimary = '';

  it('kill node1 under steady inserts: a standby is promoted, the other follows, inserts go on, barman streams from the new primary and backs it up', async () => {
    // every standby's repmgrd runs unpaused (the previous test paused it) and sees node1 as its
    // upstream right now: a kill before that would find no repmgrd ready to fail over
    for (const n of ['node2', 'node3']) {
      await waitFor(`${n}'s repmgrd watching node1, unpaused`, async () => {
        const c = await sqlTo(cfg(), n);
        try {
          const r = (await c.query('SELECT repmgr.repmgrd_is_running() AS running, repmgr.repmgrd_is_paused() AS paused, repmgr.get_upstream_node_id() AS upstream, repmgr.get_upstream_last_seen() AS seen')).rows[0];
          return r.running && !r.paused && r.upstream === 1 && r.seen >= 0 && r.seen <= 1;
        } finally {
          await c.end();
        }
      }, 30_000, 200);
    }
    const sampler = splitBrainSampler(cfg());
    const stream = insertStream(cfg());
    await waitFor('inserts on node1', async () => stream.acked.length > 50, 20_000);
    killedAt = Date.now();
    expect((await cli(['local', 'kill', 'node1', '--dir', tc.dir])).exitCode).toBe(0);
    const firstNew = await waitFor('an insert acknowledged by another node', async () => stream.acked.find((a) => a.node !== 'node1' && a.at > killedAt), 60_000, 50);
    firstAckOnNew = firstNew.at;
    newPrimary = firstNew.node;
    await waitFor('more inserts on the new primary', async () => stream.acked.filter((a) => a.node === newPrimary).length > 50, 20_000);
    await stream.stop();
    const samples = await sampler.stop();
    console.log(`failover: first write on ${newPrimary} ${((firstAckOnNew - killedAt) / 1000).toFixed(2)} s after the kill; ${samples} samples`);
    expect(sampler.twoPrimaryMoments).toEqual([]);
    expect(['node2', 'node3']).toContain(newPrimary);
    const other = newPrimary === 'node2' ? 'node3' : 'node2';
    await waitFor(`${other} follows ${newPrimary}`, async () => (await streamsFrom(other)) === newPrimary, 30_000);
    // acknowledged before the kill and missing afterwards (asynchronous replication: reported, not forbidden)
    const c = await sqlTo(cfg(), newPrimary);
    const present = new Set((await c.query('SELECT k FROM stream')).rows.map((r) => Number(r.k)));
    await c.end();
    const lost = stream.acked.filter((a) => !present.has(a.k));
    console.log(`failover: ${stream.acked.length} inserts acknowledged, ${lost.length} missing afterwards`);
    expect(lost.every((a) => a.node === 'node1')).toBe(true);

    // a node worker's failover detector promoted it (a refused primary, seconds before repmgrd's
    // reconnect attempts run out): its event is recorded, and its flow ends with barman on the new
    // primary and a DONE backup
    const promote = await waitFor('the promotion event', async () => {
      const events = JSON.parse((await cli(['events', '--json', '--dir', tc.dir])).stdout) as { at: string; node: string; event: string }[];
      return events.find((e) => e.event === 'pgha_failover_promote' && e.node === newPrimary);
    }, 30_000, 500);
    expect(Date.parse(promote.at)).toBeGreaterThan(killedAt);
    const flow = (await recentFlowRecords(redis, cfg().cluster, 50)).find((r) => r.scenario === 'failover' && r.flowId.startsWith(`${cfg().cluster}-failover-${newPrimary}-from-node1-`));
    expect(flow?.steps.map((st) => st.step)).toEqual(['promote', 'ensure-follows', 'start-repmgrd', 'start-repmgrd', 'barman-switch-primary', 'barman-backup']);
    const q = new Queue(barmanQueueName(cfg().cluster), { connection: redis });
    const backup = await waitFor('the failover flow\'s backup', async () => {
      const j = await q.getJob(`${flow!.flowId}-barman-backup`);
      return j && (await j.getState()) === 'completed' ? j : undefined;
    }, 180_000, 500);
    await q.close();
    const b = barmanPaths(cfg());
    const show = await execa('runuser', ['-u', 'barman', '--', 'barman', '-c', b.mainConf, 'show-backup', b.server, backup.returnvalue.backupId]);
    expect(show.stdout).toMatch(/Status\s+:\s+DONE/);
    expect(show.stdout).toMatch(/Timeline\s+:\s+2/);
    const server = await execa('runuser', ['-u', 'barman', '--', 'barman', '-c', b.mainConf, 'show-servers', b.server]);
    expect(server.stdout).toContain(`host=${cfg().nodes.find((n) => n.name === newPrimary)!.host}`);
    // repmgrd's own election (its reconnect attempts ran out meanwhile) found a primary already there: no second promotion, no second timeline
    const ev = await sqlTo(cfg(), newPrimary);
    const promotions = (await ev.query(`SELECT event FROM repmgr.events WHERE event IN ('standby_promote', 'repmgrd_failover_promote') AND event_timestamp > to_timestamp(${killedAt / 1000})`)).rows.map((r) => r.event);
    await ev.end();
    expect(promotions).toEqual(['standby_promote']);
  });

  it('node1 started again rejoins as a standby of the new primary on the new timeline by pg_rewind, never writable meanwhile', async () => {
    const sampler = splitBrainSampler(cfg(), 100);
    const start = await cli(['local', 'start', 'node1', '--dir', tc.dir]);
    expect({ code: start.exitCode, out: start.all }).toMatchObject({ code: 0 });
    await waitFor('node1 streams', async () => (await streamsFrom('node1')) === newPrimary, 30_000);
    // ten more samples of every node once it streams, not a fixed time
    const taken = sampler.samples;
    await waitFor('ten more samples', async () => sampler.samples >= taken + 10, 30_000, 50);
    await sampler.stop();
    expect(sampler.seen.node1 ?? 0).toBe(0);
    expect(sampler.twoPrimaryMoments).toEqual([]);
    expect(await lastDecision('node1')).toMatchObject({ action: 'rejoin', primary: newPrimary, how: 'rewound' });
    expect(asideDirs('node1')).toEqual([]);
    const c = await sqlTo(cfg(), 'node1');
    const tl = await c.query('SELECT received_tli FROM pg_stat_wal_receiver');
    await c.end();
    expect(tl.rows[0].received_tli).toBeGreaterThanOrEqual(2);
  });

  it('switchover to node1 and back: every row committed before is on the new primary; barman streams from it on a fresh slot, and the demoted node keeps no barman slot', async () => {
    const b = barmanPaths(cfg());
    const slotsOn = async (node: string) => {
      const c = await sqlTo(cfg(), node);
      try {
        return (await c.query(`SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'barman'`)).rows.length;
      } finally {
        await c.end();
      }
    };
    for (const target of ['node1', newPrimary]) {
      const from = (await writablePrimaries(cfg()))[0];
      const c = await sqlTo(cfg(), from);
      const { rows } = await c.query('INSERT INTO stream (k) SELECT g FROM generate_series(1000000 + (SELECT count(*) FROM stream), 1000999 + (SELECT count(*) FROM stream)) g RETURNING k');
      const count = Number((await c.query('SELECT count(*) AS n FROM stream')).rows[0].n);
      await c.end();
      expect(rows).toHaveLength(1000);
      const sw = await cli(['switchover', '--to', target, '--dir', tc.dir]);
      expect({ code: sw.exitCode, out: sw.all }).toMatchObject({ code: 0 });
      expect(await writablePrimaries(cfg())).toEqual([target]);
      const n = await sqlTo(cfg(), target);
      expect(Number((await n.query('SELECT count(*) AS n FROM stream')).rows[0].n)).toBe(count);
      await n.end();
      for (const other of cfg().nodes.map((x) => x.name).filter((x) => x !== target)) {
        await waitFor(`${other} follows ${target}`, async () => (await streamsFrom(other)) === target, 30_000);
      }
      // the switchover ended with WAL from the new timeline archived: barman streams from the target
      // (back to a node that was the primary before: a slot left there pointed behind its timeline)
      const check = await execa('runuser', ['-u', 'barman', '--', 'barman', '-c', b.mainConf, 'check', b.server], { reject: false });
      expect(check.stdout).toMatch(/receive-wal running: OK/);
      expect(check.stdout).toMatch(/replication slot: OK/);
      // the old primary, a standby now, holds no barman slot (it would keep every WAL segment since)
      await waitFor(`no barman slot on ${from}`, async () => (await slotsOn(from)) === 0, 30_000);
    }
  });
});

describe('manual operations', () => {
  it('pgha restart of the primary: no failover happens, it is the primary again, the standbys follow it', async () => {
    const [primary] = await writablePrimaries(cfg());
    const before = postmasterStatus(nodePaths(cfg(), primary).dataDir)!.pid;
    const sampler = splitBrainSampler(cfg());
    const res = await cli(['restart', primary, '--dir', tc.dir]);
    await sampler.stop();
    expect({ code: res.exitCode, out: res.all }).toMatchObject({ code: 0 });
    expect(postmasterStatus(nodePaths(cfg(), primary).dataDir)!.pid).not.toBe(before);
    expect(await writablePrimaries(cfg())).toEqual([primary]);
    expect(sampler.twoPrimaryMoments).toEqual([]);
    expect(Object.keys(sampler.seen)).toEqual([primary]);
    for (const n of cfg().nodes.map((x) => x.name).filter((x) => x !== primary)) {
      await waitFor(`${n} follows ${primary}`, async () => (await streamsFrom(n)) === primary, 30_000);
    }
  });

  it('pgha failover --to a standby after the primary died (repmgrd paused): it is promoted, the other follows, the old one rejoins', async () => {
    const [primary] = await writablePrimaries(cfg());
    const [target, other] = cfg().nodes.map((n) => n.name).filter((n) => n !== primary);
    const p = nodePaths(cfg(), target);
    const pause = await execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${p.passfile}`, 'repmgr', '-f', p.repmgrConf, 'service', 'pause'], { reject: false });
    expect(pause.exitCode).toBe(0);
    expect((await cli(['local', 'kill', primary, '--dir', tc.dir])).exitCode).toBe(0);
    const res = await cli(['failover', '--to', target, '--dir', tc.dir]);
    expect({ code: res.exitCode, out: res.all }).toMatchObject({ code: 0 });
    expect(await writablePrimaries(cfg())).toEqual([target]);
    await waitFor(`${other} follows ${target}`, async () => (await streamsFrom(other)) === target, 30_000);
    const back = await cli(['local', 'start', primary, '--dir', tc.dir]);
    expect({ code: back.exitCode, out: back.all }).toMatchObject({ code: 0 });
    expect(await lastDecision(primary)).toMatchObject({ action: 'rejoin', primary: target });
    expect(await writablePrimaries(cfg())).toEqual([target]);
  });

  it('pgha failover --to a standby is refused while the primary still takes writes', async () => {
    const [primary] = await writablePrimaries(cfg());
    const target = cfg().nodes.map((n) => n.name).find((n) => n !== primary)!;
    const res = await cli(['failover', '--to', target, '--dir', tc.dir]);
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toContain(`failover to ${target} refused: ${primary} still accepts writes`);
    expect(await writablePrimaries(cfg())).toEqual([primary]);
  });
});

describe('maintenance mode and reinit', () => {
  /** Each node's repmgrd pause flag as its PostgreSQL answers it (null: no answer). */
  const pausedFlags = async (nodes: string[]) =>
    Promise.all(
      nodes.map(async (n) => {
        const c = await sqlTo(cfg(), n).catch(() => null);
        if (!c) return null;
        try {
          return (await c.query('SELECT repmgr.repmgrd_is_paused() AS p')).rows[0].p as boolean;
        } finally {
          await c.end();
        }
      }),
    );

  it('pgha pause: said in status and the metrics with who and why; a planned restart inside the window leaves it paused; the primary killed: no standby promoted while paused; pgha resume: one is, the other follows, the old primary rejoins', async () => {
    const [primary] = await writablePrimaries(cfg());
    const standbys = cfg().nodes.map((n) => n.name).filter((n) => n !== primary);
    const pause = await cli(['pause', '--reason', 'kernel upgrade', '--dir', tc.dir]);
    expect({ code: pause.exitCode, out: pause.all }).toMatchObject({ code: 0, out: expect.stringContaining('maintenance mode on, by ') });
    const status = JSON.parse((await cli(['status', '--json', '--dir', tc.dir])).stdout);
    expect(status.automaticFailover).toMatchObject({ paused: true, pausedOn: cfg().nodes.map((n) => n.name), maintenance: { reason: 'kernel upgrade', by: expect.stringMatching(/^\S+@\S+$/) } });
    expect(status.automaticFailover.message).toMatch(/^automatic failover PAUSED for maintenance mode since .* \(kernel upgrade\).*pgha resume ends it$/);
    const { base, headers } = tc.dashboard();
    const metrics = await (await fetch(`${base}/metrics`, { headers })).text();
    expect(metrics).toMatch(/^pgha_maintenance_mode_since_seconds\{cluster="[^"]+"\} \d+/m);

    // a flow that pauses for itself resumes only its own pause; its node's restarted PostgreSQL is paused again
    const restart = await cli(['restart', standbys[0]!, '--dir', tc.dir]);
    expect({ code: restart.exitCode, out: restart.all }).toMatchObject({ code: 0 });
    expect(await pausedFlags(cfg().nodes.map((n) => n.name))).toEqual([true, true, true]);

    const sampler = splitBrainSampler(cfg());
    expect((await cli(['local', 'kill', primary, '--dir', tc.dir])).exitCode).toBe(0);
    // unpaused, each standby's repmgrd would have promoted once it had not seen the primary for its
    // reconnect attempts; wait until both have gone twice that long without it
    const r = cfg().repmgr;
    const wouldHaveFailedOverSecs = 2 * r.reconnectAttempts * r.reconnectIntervalSecs + 2 * r.monitorIntervalSecs;
    for (const n of standbys) {
      await waitFor(`${n} has not seen ${primary} for ${wouldHaveFailedOverSecs} s`, async () => {
        const c = await sqlTo(cfg(), n);
        try {
          return (await c.query('SELECT repmgr.get_upstream_last_seen() AS seen')).rows[0].seen >= wouldHaveFailedOverSecs;
        } finally {
          await c.end();
        }
      }, 60_000, 250);
    }
    expect(await writablePrimaries(cfg())).toEqual([]);
    expect(Object.keys(sampler.seen).filter((n) => n !== primary)).toEqual([]);

    const resume = await cli(['resume', '--dir', tc.dir]);
    expect({ code: resume.exitCode, out: resume.all }).toMatchObject({ code: 0 });
    expect(resume.all).not.toContain('stays PAUSED');
    const promoted = await waitFor('a standby promoted after the resume', async () => (await writablePrimaries(cfg()))[0], 60_000, 200);
    await sampler.stop();
    expect(sampler.twoPrimaryMoments).toEqual([]);
    expect(standbys).toContain(promoted);
    const other = standbys.find((n) => n !== promoted)!;
    await waitFor(`${other} follows ${promoted}`, async () => (await streamsFrom(other)) === promoted, 60_000);
    // the election's failover flow pauses repmgrd for its own steps and resumes it last
    await waitFor('automatic failover on, maintenance mode off', async () => {
      const after = JSON.parse((await cli(['status', '--json', '--dir', tc.dir])).stdout);
      return after.automaticFailover.paused === false && after.automaticFailover.maintenance === null;
    }, 120_000, 1000);
    const back = await cli(['local', 'start', primary, '--dir', tc.dir]);
    expect({ code: back.exitCode, out: back.all }).toMatchObject({ code: 0 });
    await waitFor(`${primary} follows ${promoted}`, async () => (await streamsFrom(primary)) === promoted, 60_000);
  });

  it('pgha reinit: refused for the primary, naming a standby to switch to; a standby is cloned afresh, streams, and its old data directory is removed once it does', async () => {
    const [primary] = await writablePrimaries(cfg());
    let standby = '';
    for (const n of cfg().nodes.map((x) => x.name)) if (!standby && n !== primary && (await streamsFrom(n).catch(() => null)) === primary) standby = n;
    expect(standby).not.toBe('');
    const refused = await cli(['reinit', primary, '--dir', tc.dir]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout).toContain(`${primary} is the primary: reinit re-clones a standby from the primary; to reinit ${primary}, switch over first (pgha switchover --to `);

    const p = nodePaths(cfg(), standby);
    const marker = join(p.dataDir, 'pgha-reinit-marker');
    await execa('runuser', ['-u', 'postgres', '--', 'touch', marker]);
    const pid = postmasterStatus(p.dataDir)!.pid;
    const res = await cli(['reinit', standby, '--dir', tc.dir]);
    expect({ code: res.exitCode, out: res.all }).toMatchObject({ code: 0 });
    expect(res.stdout).toMatch(/reclone-standby[\s\S]*forget-old-data/);
    expect(existsSync(marker)).toBe(false);
    expect(postmasterStatus(p.dataDir)!.pid).not.toBe(pid);
    expect(await streamsFrom(standby)).toBe(primary);
    expect(asideDirs(standby)).toEqual([]);
    const c = await sqlTo(cfg(), primary);
    await c.query('CREATE TABLE IF NOT EXISTS after_reinit (k int)');
    await c.query('INSERT INTO after_reinit VALUES (1)');
    await c.end();
    await waitFor(`the row on ${standby}`, async () => {
      const s = await sqlTo(cfg(), standby);
      try {
        return (await s.query("SELECT to_regclass('after_reinit') IS NOT NULL AS t")).rows[0].t && (await s.query('SELECT count(*)::int AS n FROM after_reinit')).rows[0].n === 1;
      } finally {
        await s.end();
      }
    }, 30_000);
  });
});

describe('history', () => {
  it('pgha history names every promotion since the first start, each with its timeline, parent and fork LSN: the detector\'s failovers, the switchovers, pgha failover --to, and a restore of the oldest backup', async () => {
    // a row written on the newest timeline, after the newest backup (taken before the last promotions)
    const [before] = await writablePrimaries(cfg());
    const w = await sqlTo(cfg(), before!);
    await w.query('INSERT INTO stream (k) VALUES (-1)');
    const streamed = Number((await w.query("SELECT count(*) AS n FROM stream")).rows[0].n);
    await w.end();
    // the oldest backup, from before every promotion (each failover flow takes a fresh one on its new timeline)
    const oldest = catalogue(cfg()).filter((b) => b.status === 'DONE').sort((a, b) => a.id.localeCompare(b.id))[0]!;
    const restore = await cli(['restore', '--yes', '--backup', oldest.id, '--dir', tc.dir], { timeoutMs: 600_000 });
    expect({ code: restore.exitCode, out: restore.all }).toMatchObject({ code: 0 });
    const [primary] = await writablePrimaries(cfg());
    // restored across the timelines since the backup: nothing written after it is lost
    const r = await sqlTo(cfg(), primary!);
    expect((await r.query('SELECT count(*) AS n, bool_or(k = -1) AS marker FROM stream')).rows[0]).toEqual({ n: String(streamed), marker: true });
    await r.end();
    const h = JSON.parse((await cli(['history', '--json', '--dir', tc.dir])).stdout);
    expect(h.primary).toBe(primary);
    const rows = h.timelines as { timeline: number; parent: number | null; forkLsn: string | null; at: string | null; node: string | null; why: string | null; by: string | null; current: boolean }[];
    expect(rows[0]).toMatchObject({ timeline: 1, why: 'first start', at: expect.stringMatching(/^\d{4}-/), current: true });
    expect(rows.at(-1)).toMatchObject({ timeline: h.currentTimeline, why: 'restore', node: primary, by: expect.stringMatching(/-restore-/) });
    // every timeline since: forked from the one before (no restore went back before a promotion), recorded with who and when
    for (const r of rows.slice(1)) {
      expect(r).toMatchObject({ parent: r.timeline - 1, forkLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), at: expect.stringMatching(/^\d{4}-/), node: expect.stringMatching(/^node\d$/), current: true });
    }
    // the node workers' detector (the kill under inserts; the primary killed during maintenance, at the resume)
    expect(rows.filter((r) => r.why === 'failover' && /-failover-node\d-from-node\d-\d+$/.test(r.by ?? '')).length).toBeGreaterThanOrEqual(2);
    expect(rows.filter((r) => r.why === 'switchover').length).toBeGreaterThanOrEqual(2);
    // pgha failover --to
    expect(rows.find((r) => r.why === 'failover' && /-failover-node\d-[0-9a-f]/.test(r.by ?? '') && !/-from-/.test(r.by ?? ''))).toBeDefined();
    // the fork points are PostgreSQL's own: the current timeline's history file on the primary
    const c = await sqlTo(cfg(), primary!);
    const file = (await c.query(`SELECT pg_read_file('pg_wal/' || lpad(upper(to_hex($1::int)), 8, '0') || '.history') AS t`, [h.currentTimeline])).rows[0].t as string;
    await c.end();
    const forks = file.split('\n').filter((l) => l.trim()).map((l) => l.split('\t')[1]);
    expect(rows.slice(1).map((r) => r.forkLsn)).toEqual(forks);
    const text = (await cli(['history', '--dir', tc.dir])).stdout;
    expect(text).toMatch(new RegExp(`^${h.currentTimeline} \\*\\s+${h.currentTimeline - 1}\\s+\\S+\\s+\\S+\\s+${primary}\\s+restore\\s`, 'm'));
  });
});

describe('isolation and no clear answer', () => {
  let primary = '';

  it("repmgr's backstop fence, with the node worker (and its watchdog) dead: never stops a primary a majority still sees, however long no standby streams; stops it once no majority answers (failing input 8)", async () => {
    primary = (await writablePrimaries(cfg()))[0];
    const standbys = cfg().nodes.map((n) => n.name).filter((n) => n !== primary);
    const p = nodePaths(cfg(), primary);
    const backstopLog = join(p.stateDir, 'fence-backstop.log');
    const logText = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    const worker = readPidFile(join(layout(tc.dir).pidDir, `${primary}-worker.pid`))!;
    process.kill(worker, 'SIGKILL');
    // both standbys answer but stream from nothing (as standbys that must be rewound before they can follow)
    const conninfo = new Map<string, string>();
    for (const s of standbys) {
      const c = await sqlTo(cfg(), s);
      try {
        conninfo.set(s, (await c.query(`SELECT current_setting('primary_conninfo') AS v`)).rows[0].v);
        await c.query(`ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=repmgr_streaming application_name=${s}'`);
        await c.query('SELECT pg_reload_conf()');
      } finally {
        await c.end();
      }
    }
    const restore = async () => {
      for (const [s, v] of conninfo) {
        const c = await sqlTo(cfg(), s);
        try {
          await c.query(`ALTER SYSTEM SET primary_conninfo = '${v.replace(/'/g, "''")}'`);
          await c.query('SELECT pg_reload_conf()');
        } finally {
          await c.end();
        }
      }
    };
    try {
      for (const s of standbys) await waitFor(`${s} streams from nothing`, async () => (await streamsFrom(s)) === null, 30_000, 200);
      // repmgrd runs the backstop fenceAfterSecs later; it watches instead of stopping the primary
      await waitFor('the backstop watching', async () => /watch: no standby streams from it, but 3 of 3 nodes answer, a majority: not fenced/.test(logText(backstopLog)), 60_000, 200);
      // repmgrd says every second that its command ran already; five such seconds later the primary still takes writes
      const ranAlready = () => (logText(p.repmgrdLog).match(/"child_nodes_disconnect_command" was previously executed/g) ?? []).length;
      const before = ranAlready();
      await waitFor('five more seconds of repmgrd child-node checks', async () => ranAlready() >= before + 5, 60_000, 200);
      expect(await writablePrimaries(cfg())).toEqual([primary]);
      expect(logText(backstopLog)).not.toMatch(/FENCING/);
    } finally {
      await restore();
    }
    // a standby streams again: the backstop leaves
    await waitFor('the backstop done', async () => /done: \S+ streams from it again: no fence/.test(logText(backstopLog)), 60_000, 200);
    // no majority: both standbys die; repmgrd runs the backstop again and it stops the primary
    for (const s of standbys) expect((await cli(['local', 'kill', s, '--dir', tc.dir])).exitCode).toBe(0);
    const lostAt = Date.now();
    await waitFor(`${primary} fenced by the backstop`, async () => !postmasterStatus(p.dataDir), 60_000, 100);
    console.log(`backstop: ${primary} stopped ${Date.now() - lostAt} ms after losing both standbys (fenceAfterSecs ${cfg().repmgr.fenceAfterSecs} s, its worker dead)`);
    expect(logText(backstopLog)).toMatch(new RegExp(`fence: only 1 of 3 nodes answer \\(2 needed\\), 3 reads in a row\n.*FENCING ${primary}`));
    // everything back for the tests below
    const up = await cli(['local', 'up', ...tc.args]);
    expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
    const back = await waitFor('one writable node', async () => {
      const w = await writablePrimaries(cfg());
      return w.length === 1 ? w[0] : undefined;
    }, 120_000, 500);
    for (const s of cfg().nodes.map((n) => n.name).filter((n) => n !== back)) {
      await waitFor(`${s} streams from ${back}`, async () => (await streamsFrom(s)) === back, 120_000, 500);
    }
  });

  it('a primary that has lost every standby is fenced by the watchdog of its worker within the fence budget, not by the 30 s backstop of repmgr', async () => {
    primary = (await writablePrimaries(cfg()))[0];
    const standbys = cfg().nodes.map((n) => n.name).filter((n) => n !== primary);
    const pm = postmasterStatus(nodePaths(cfg(), primary).dataDir)!;
    for (const n of standbys) expect((await cli(['local', 'kill', n, '--dir', tc.dir])).exitCode).toBe(0);
    const lostAt = Date.now();
    await waitFor(`${primary} fenced`, async () => !postmasterStatus(nodePaths(cfg(), primary).dataDir), 20_000, 50);
    const took = Date.now() - lostAt;
    const budget = fencedWithinMs(cfg().fencing);
    console.log(`fence: ${primary} stopped ${took} ms after losing its standbys (budget ${budget} ms; repmgr's backstop fenceAfterSecs ${cfg().repmgr.fenceAfterSecs} s)`);
    expect(took).toBeLessThanOrEqual(budget + 500);
    expect(await writablePrimaries(cfg())).toEqual([]);
    // the postmaster that ran before is gone (not merely unlisted)
    expect(isAlive(pm.pid)).toBe(false);
    // the worker says why (written once pg_ctl has returned)
    const log = await waitFor('the fence in the worker log', async () => {
      const text = readFileSync(join(tc.dir, 'logs', `${primary}-worker.log`), 'utf8');
      return /fenced \S+: PostgreSQL stopped in \d+ ms/.test(text) ? text : undefined;
    }, 10_000, 100);
    expect(log).toMatch(new RegExp(`FENCING ${primary}: writable, but last saw a majority of the 3 nodes \\d+ ms ago`));
    expect(log).toMatch(new RegExp(`fenced ${primary}: PostgreSQL stopped in \\d+ ms`));
  });

  it('started again with its peers unreachable, it stays down and says why', async () => {
    expect((await cli(['local', 'kill', primary, '--dir', tc.dir])).exitCode).toBe(0);
    const start = await cli(['local', 'start', primary, '--dir', tc.dir], { timeoutMs: 120_000 });
    expect(start.exitCode).toBe(1);
    expect(start.stdout).toMatch(new RegExp(`${primary} stays down: was the primary, but only 0 of 2 peers answer`));
    expect(start.stdout).toMatch(/without a majority it cannot prove no other node was promoted/);
    expect(postmasterStatus(nodePaths(cfg(), primary).dataDir)).toBeUndefined();
    expect(existsSync(nodePaths(cfg(), primary).dataDir)).toBe(true);
  });
});
