// Zero-loss mode (replication.synchronous: quorum, the default) against the faults that lost
// acknowledged commits before it: a primary frozen and resumed, and a manual failover to a standby
// that lags its sibling. Destructive: its own cluster and addresses; the tests run in order.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import pg from 'pg';
import { barmanPaths, findNode, nodePaths } from '../../src/config/paths.js';
import { readPidFile } from '../../src/fsutil.js';
import { layout } from '../../src/local/cluster.js';
import { catalogue } from '../../src/barman/actions.js';
import { serverConfPrimary } from '../../src/barman/render.js';
import { walTimeline } from '../../src/barman/reconcile.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { redisConnection } from '../../src/redis.js';
import { barmanQueueName, nodeQueueName } from '../../src/queues.js';
import { quorumStandbyNames } from '../../src/roles/quorum.js';
import { historyFileName } from '../../src/roles/timeline.js';
import { socketsOfPid } from '../../src/repmgr/unstick.js';
import { repmgrdPidOf } from '../../src/repmgr/actions.js';
import { cli, sqlTo, testCluster, waitFor, writablePrimaries, type TestCluster } from './harness.js';

let tc: TestCluster;
const cfg = () => tc.config();

/** A client's connection to one node's address, as the postgres role (repmgr's own writes skip the quorum). */
async function clientTo(node: string): Promise<pg.Client> {
  const c = new pg.Client({ host: findNode(cfg(), node).host, port: cfg().postgres.port, user: 'postgres', password: cfg().postgres.rootPassword, database: 'repmgr', connectionTimeoutMillis: 1000 });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function one<T>(node: string, sql: string, params: unknown[] = []): Promise<T> {
  const c = await sqlTo(cfg(), node);
  try {
    return (await c.query(sql, params)).rows[0] as T;
  } finally {
    await c.end();
  }
}

const streamsFrom = async (node: string) => {
  const r = await one<{ rec: boolean; host: string | null }>(node, `SELECT pg_is_in_recovery() AS rec, (SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming') AS host`);
  return r.rec ? (cfg().nodes.find((n) => n.host === r.host)?.name ?? null) : 'PRIMARY';
};

const repmgrService = (node: string, verb: 'pause' | 'unpause') => {
  const p = nodePaths(cfg(), node);
  return execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${p.passfile}`, 'repmgr', '-f', p.repmgrConf, 'service', verb], { reject: false });
};

/** The one writable node, once there is exactly one. */
const thePrimary = () => waitFor('exactly one writable node', async () => {
  const w = await writablePrimaries(cfg());
  return w.length === 1 ? w[0] : undefined;
}, 60_000, 200);

/** Every node but the primary streams from it. */
const healed = async (timeoutMs = 120_000) => {
  const primary = await thePrimary();
  for (const n of cfg().nodes.map((x) => x.name).filter((x) => x !== primary)) {
    await waitFor(`${n} streams from ${primary}`, async () => (await streamsFrom(n)) === primary, timeoutMs, 500);
  }
  return primary;
};

beforeAll(async () => {
  tc = await testCluster('quorum', '127.0.27.11');
  const up = await cli(['local', 'up', ...tc.args]);
  if (up.exitCode !== 0) console.log(up.all);
  expect(up.exitCode).toBe(0);
  const c = await clientTo('node1');
  await c.query('CREATE TABLE acked (k bigint PRIMARY KEY, at timestamptz DEFAULT now())');
  await c.end();
}, 600_000);

afterAll(async () => {
  await tc?.destroy();
}, 300_000);

describe('quorum synchronous replication', () => {
  it('every node has synchronous_standby_names = ANY 1 of the three; the standbys confirm commits as a quorum', async () => {
    const want = quorumStandbyNames('quorum', ['node1', 'node2', 'node3']);
    expect(want).toBe('ANY 1 ("node1", "node2", "node3")');
    for (const n of ['node1', 'node2', 'node3']) {
      await waitFor(`${n}'s synchronous_standby_names`, async () => (await one<{ s: string }>(n, `SELECT current_setting('synchronous_standby_names') AS s`)).s === want, 30_000, 200);
    }
    const states = await waitFor('both standbys in the quorum', async () => {
      const c = await sqlTo(cfg(), 'node1');
      try {
        const r = await c.query(`SELECT application_name AS n, sync_state AS s FROM pg_stat_replication WHERE application_name LIKE 'node%' ORDER BY 1`);
        return r.rows.length === 2 ? r.rows : undefined;
      } finally {
        await c.end();
      }
    }, 30_000, 200);
    expect(states).toEqual([{ n: 'node2', s: 'quorum' }, { n: 'node3', s: 'quorum' }]);
  });

  it('a primary frozen until a standby is promoted, then resumed, loses no acknowledged insert (failing input 1)', async () => {
    // one client pinned to node1's address, inserting every 20 ms, recording each acknowledged key
    const acked: { k: number; at: number }[] = [];
    const refusedAfterResume: string[] = [];
    let stop = false;
    let resumedAt = 0;
    let held: number[] = [];
    const writer = (async () => {
      let c: pg.Client | undefined;
      for (let k = 1; !stop; k++) {
        try {
          c ??= await clientTo('node1');
          // bounded: a commit waiting for a quorum that never comes is not acknowledged
          await Promise.race([c.query('INSERT INTO acked (k) VALUES ($1)', [k]), new Promise((_, no) => setTimeout(() => no(new Error('no answer in 3 s')), 3000))]);
          acked.push({ k, at: Date.now() });
        } catch (err) {
          if (resumedAt) refusedAfterResume.push((err as Error).message);
          const old = c;
          c = undefined;
          (old as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream?.destroy();
          old?.end().catch(() => {});
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      await c?.end().catch(() => {});
    })();
    try {
      await waitFor('inserts acknowledged by node1', async () => acked.length >= 50, 30_000, 50);
      // The worst moment to freeze: each standby's repmgrd has just sent its per-second query to the
      // primary. Made certain by stopping first the backends that serve repmgrd's connections to node1,
      // until each holds an unread query; the whole host freezes after that. A frozen node's kernel
      // ACKs everything, so nothing in libpq ends those waits: without the node worker destroying
      // repmgrd's connections to the silent node, no standby ever notices and nothing is promoted.
      const primaryHost = findNode(cfg(), 'node1').host;
      const portsOf = await Promise.all(['node2', 'node3'].map(async (n) => {
        const listed = await execa('ss', ['-tnpH', 'state', 'established', 'dst', primaryHost, 'dport', '=', String(cfg().postgres.port)]);
        return socketsOfPid(listed.stdout, repmgrdPidOf(cfg(), findNode(cfg(), n))!);
      }));
      const served = await clientTo('node1');
      // repmgrd's kept connections (a ping's connection may be gone already)
      const backends = (await served.query('SELECT pid, client_port FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [portsOf.flat()])).rows.map((r) => ({ pid: Number(r.pid), port: Number(r.client_port) }));
      await served.end();
      const kept = portsOf.map((ports) => ports.filter((p) => backends.some((b) => b.port === p)));
      expect(kept.map((k) => k.length > 0)).toEqual([true, true]);
      held = backends.map((b) => b.pid);
      for (const pid of held) process.kill(pid, 'SIGSTOP');
      const unreadOn = async () => {
        const lines = (await execa('ss', ['-tnH', 'state', 'established', 'src', `${primaryHost}:${cfg().postgres.port}`])).stdout.split('\n').map((l) => l.trim().split(/\s+/));
        const waiting = lines.filter((f) => Number(f[0]) > 0).map((f) => Number(f[3]?.split(':').pop()));
        return kept.filter((ports) => ports.some((p) => waiting.includes(p))).length;
      };
      await waitFor('a query from each standby\'s repmgrd waiting, unread, on node1', async () => (await unreadOn()) === 2, 30_000, 100);
      const pause = await cli(['local', 'pause', 'node1', '--dir', tc.dir]);
      expect({ code: pause.exitCode, out: pause.all }).toMatchObject({ code: 0 });
      const frozenAt = Date.now();
      const promoted = await waitFor('a standby promoted', async () => (await writablePrimaries(cfg())).find((n) => n !== 'node1'), 90_000, 200);
      const resume = await cli(['local', 'resume', 'node1', '--dir', tc.dir]);
      expect(resume.exitCode).toBe(0);
      resumedAt = Date.now();
      // node1 goes on running with its old timeline until its watchdog sees the newer one and fences it
      await waitFor('node1 no longer writable', async () => !(await writablePrimaries(cfg())).includes('node1'), 60_000, 100);
      // and a little longer: anything it still acknowledged would show up here
      const until = Date.now() + 2000;
      await waitFor('2 s more of the pinned client', async () => Date.now() > until, 5000, 100);
      stop = true;
      await writer;
      const afterFreeze = acked.filter((a) => a.at > frozenAt);
      console.log(`frozen primary: ${acked.length} acknowledged inserts, ${afterFreeze.length} after the freeze; ${promoted} promoted ${(resumedAt - frozenAt) / 1000} s after it; ${refusedAfterResume.length} refused after the resume`);

      const primary = await healed();
      expect(primary).toBe(promoted);
      const c = await clientTo(primary);
      try {
        const keys = new Set((await c.query('SELECT k FROM acked')).rows.map((r) => Number(r.k)));
        const lost = acked.filter((a) => !keys.has(a.k)).map((a) => a.k);
        expect(lost).toEqual([]);
      } finally {
        await c.end();
      }
      // the old primary came back as a standby by itself
      expect(await streamsFrom('node1')).toBe(primary);
    } finally {
      stop = true;
      await cli(['local', 'resume', 'node1', '--dir', tc.dir]);
      for (const pid of held) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone with node1's fence
        }
      }
      await writer;
    }
  });

  it('manual failover to a standby that lags its sibling is refused, naming the sibling and the bytes; the most advanced is promoted (failing input 2)', async () => {
    const primary = await healed();
    const [lagging, ahead] = cfg().nodes.map((n) => n.name).filter((n) => n !== primary);
    // the lagging standby's WAL receiver points at a closed port: it receives nothing more
    const conninfo = (await one<{ v: string }>(lagging, `SELECT current_setting('primary_conninfo') AS v`)).v;
    const lc = await sqlTo(cfg(), lagging);
    try {
      await lc.query(`ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=repmgr_streaming application_name=${lagging}'`);
      await lc.query('SELECT pg_reload_conf()');
    } finally {
      await lc.end();
    }
    await waitFor(`${lagging} streams from nothing`, async () => (await streamsFrom(lagging)) === null, 30_000, 200);
    // 1,000 committed rows that only the other standby confirms (quorum: ANY 1)
    const c = await clientTo(primary);
    await c.query('INSERT INTO acked (k) SELECT g FROM generate_series(1000001, 1001000) g');
    await c.end();
    expect((await repmgrService(primary, 'pause')).exitCode).toBe(0);
    try {
      expect((await cli(['local', 'kill', primary, '--dir', tc.dir])).exitCode).toBe(0);
      const refused = await cli(['failover', '--to', lagging, '--dir', tc.dir]);
      expect(refused.exitCode).toBe(1);
      expect(refused.all).toMatch(new RegExp(`failover to ${lagging} refused: ${ahead} has \\d+ bytes of WAL that ${lagging} lacks`));
      expect(refused.all).toContain('--force');
      const bytes = Number(new RegExp(`${ahead} has (\\d+) bytes`).exec(refused.all!)![1]);
      // 1,000 rows are far more than a few bytes: the figure is the real gap
      expect(bytes).toBeGreaterThan(20_000);
      // nothing was promoted by the refusal
      expect(await writablePrimaries(cfg())).toEqual([]);

      const ok = await cli(['failover', '--to', ahead, '--dir', tc.dir]);
      expect({ code: ok.exitCode, out: ok.all }).toMatchObject({ code: 0 });
      expect(ok.all).toContain(`${ahead} is the most advanced`);
    } finally {
      // a test that failed half-way: the lagging node gets its conninfo back (the failover's follow rewrote it otherwise)
      const back = await sqlTo(cfg(), lagging).catch(() => undefined);
      if (back) {
        const now = (await back.query(`SELECT current_setting('primary_conninfo') AS v`).catch(() => ({ rows: [{ v: '' }] }))).rows[0].v as string;
        if (now.includes('port=1 ')) {
          await back.query(`ALTER SYSTEM SET primary_conninfo = '${conninfo.replace(/'/g, "''")}'`).catch(() => {});
          await back.query('SELECT pg_reload_conf()').catch(() => {});
        }
        await back.end();
      }
      await repmgrService(ahead, 'unpause');
    }
    expect(await writablePrimaries(cfg())).toEqual([ahead]);
    const n = await clientTo(ahead);
    try {
      expect(Number((await n.query('SELECT count(*) AS n FROM acked WHERE k > 1000000')).rows[0].n)).toBe(1000);
    } finally {
      await n.end();
    }
    await waitFor(`${lagging} follows ${ahead}`, async () => (await streamsFrom(lagging)) === ahead, 60_000, 500);
  });
});

describe('heals by itself, from what is read', () => {
  it('a standby pointed at another standby, where its slot does not exist (primary_conninfo changed behind pgha), follows the primary again through a heal flow, its slot on the primary (failing input 4)', async () => {
    // the node the last test killed comes back first (local up starts what is not running)
    const up = await cli(['local', 'up', ...tc.args]);
    expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
    const primary = await healed(180_000);
    const [stray, other] = cfg().nodes.map((n) => n.name).filter((n) => n !== primary);
    const conninfo = (await one<{ v: string }>(stray, `SELECT current_setting('primary_conninfo') AS v`)).v;
    const c = await sqlTo(cfg(), stray);
    try {
      await c.query(`ALTER SYSTEM SET primary_conninfo = '${conninfo.replace(findNode(cfg(), primary).host, findNode(cfg(), other).host).replace(/'/g, "''")}'`);
      await c.query('SELECT pg_reload_conf()');
    } finally {
      await c.end();
    }
    // its slot (primary_slot_name) does not exist on the other standby: it streams from nothing there
    await waitFor(`${stray} no longer streams from ${primary}`, async () => (await streamsFrom(stray)) !== primary, 30_000, 200);
    const wrongAt = Date.now();
    // the standby keeper's window (30 s), its check (5 s) and the follow
    await waitFor(`${stray} streams from ${primary} again`, async () => (await streamsFrom(stray)) === primary, 120_000, 500);
    console.log(`heal: ${stray} streams from ${primary} again ${((Date.now() - wrongAt) / 1000).toFixed(1)} s after it stopped streaming from it`);
    // the heal ran as a flow of its own on the node's queue (visible in Bull Board)
    const connection = redisConnection(cfg().redis);
    const queue = new Queue(nodeQueueName(cfg().cluster, stray), { connection });
    try {
      const heal = await waitFor('the heal flow completed', async () => (await queue.getJobs(['completed'], 0, 100)).find((j) => j.name === 'ensure-follows' && String(j.id).startsWith(`${cfg().cluster}-heal-${stray}-`)), 60_000, 500);
      expect(heal.returnvalue).toEqual({ result: 'followed' });
    } finally {
      await queue.close();
      connection.disconnect();
    }
    const slot = await one<{ n: string }>(primary, `SELECT count(*) AS n FROM pg_replication_slots WHERE slot_name = 'repmgr_slot_${cfg().nodes.findIndex((n) => n.name === stray) + 1}' AND active`);
    expect(Number(slot.n)).toBe(1);
  });

  it('a promotion while Redis is down (no event, no follow-up flow): once Redis is back, barman streams from the new primary and backs up its timeline (failing input 7)', async () => {
    const old = await healed();
    const l = layout(tc.dir);
    process.kill(readPidFile(l.redisPid)!, 'SIGKILL');
    const killedAt = Date.now();
    expect((await cli(['local', 'kill', old, '--dir', tc.dir])).exitCode).toBe(0);
    const promoted = await waitFor('a standby promoted by repmgrd', async () => (await writablePrimaries(cfg())).find((n) => n !== old), 90_000, 500);
    // the timeline of the WAL it writes (its last checkpoint may still be on the old one)
    const timeline = (await one<{ t: number }>(promoted, `SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS t`)).t;
    // repmgr's event hooks give up on a Redis that is down (10 s each): then the promotion is lost to the events
    const hooks = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`--redis-file\0${tc.dir}`);
      } catch {
        return false;
      }
    });
    // repmgr writes the event in its metadata, then runs the hook
    await waitFor('repmgrd_failover_promote in repmgr.events', async () => Number((await one<{ n: string }>(promoted, `SELECT count(*) AS n FROM repmgr.events WHERE event = 'repmgrd_failover_promote' AND event_timestamp > to_timestamp(${killedAt / 1000})`)).n) > 0, 60_000, 200);
    await waitFor('no repmgr event hook of this cluster left waiting for Redis', async () => hooks().length === 0, 60_000, 200);
    // Redis back (local up starts what is not running), the old primary too
    const up = await cli(['local', 'up', ...tc.args]);
    expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
    const back = Date.now();
    const b = barmanPaths(cfg());
    await waitFor(`barman's server file points at ${promoted}`, async () => serverConfPrimary(cfg(), readFileSync(b.serverConf, 'utf8')) === promoted, 180_000, 1000);
    try {
      await waitFor(`a DONE backup on timeline ${timeline}`, async () => catalogue(cfg()).some((x) => x.status === 'DONE' && (walTimeline(x.walBegin) ?? 0) >= timeline), 300_000, 2000);
    } catch (err) {
      // for the post-mortem: what the reconcile decided and what became of its repair flows
      const connection = redisConnection(cfg().redis);
      const queue = new Queue(barmanQueueName(cfg().cluster), { connection });
      const jobs = await queue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed'], 0, 500);
      console.log([
        ...jobs.filter((j) => j?.name === 'barman-reconcile').sort((a, b) => (a.finishedOn ?? 0) - (b.finishedOn ?? 0)).slice(-6).map((j) => `reconcile ${new Date(j.finishedOn ?? 0).toISOString()}: ${JSON.stringify(j.returnvalue)}`),
        ...jobs.filter((j) => j && String(j.id).includes('-barman-repair-')).map((j) => `${j.id}: ${j.finishedOn ? new Date(j.finishedOn).toISOString() : 'not finished'} ${JSON.stringify(j.returnvalue)} ${j.failedReason ?? ''}`),
        ...catalogue(cfg()).map((b) => `backup ${b.id} ${b.status} ${b.walBegin}`),
      ].join('\n'));
      await queue.close();
      connection.disconnect();
      throw err;
    }
    console.log(`barman reconcile: streams from ${promoted} and holds a backup on timeline ${timeline} ${((Date.now() - back) / 1000).toFixed(1)} s after Redis was back`);
    // no event reached pgha, so no follow-up flow ran: the reconcile's repair flow did it
    const connection = redisConnection(cfg().redis);
    const queue = new Queue(barmanQueueName(cfg().cluster), { connection });
    try {
      const jobs = (await queue.getJobs(['completed'], 0, 500)).map((j) => String(j.id));
      expect(jobs.filter((id) => id.includes(`-promoted-${promoted}-`))).toEqual([]);
      expect(jobs).toContainEqual(expect.stringMatching(new RegExp(`^${cfg().cluster}-barman-repair-${promoted}-tl${timeline}-\\d+-barman-switch-primary$`)));
    } finally {
      await queue.close();
      connection.disconnect();
    }
    const check = await execa('runuser', ['-u', 'barman', '--', 'barman', '-c', b.mainConf, 'check', b.server], { reject: false });
    expect(check.stdout).toMatch(/receive-wal running: OK/);
    expect(check.stdout).toMatch(/replication slot: OK/);
    await healed(180_000);
  });
});

describe('no two histories share a timeline number (failing input 8)', () => {
  const timelineOf = async (node: string) =>
    (await one<{ t: number }>(node, `SELECT CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver) ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS t`)).t;
  const reservationOf = async (node: string) =>
    (await one<{ r: number | null }>(node, `SELECT max(setting::int) AS r FROM pg_file_settings WHERE name = 'pgha.reserved_timeline'`)).r;
  const historyOf = async (node: string, t: number) =>
    (await one<{ h: string | null }>(node, `SELECT pg_read_file($1::text, 0, 65536, true) AS h`, [`pg_wal/${historyFileName(t)}`])).h;

  it('a promotion takes a number above the reservation a sibling holds (left by a promoted node that died before anyone followed it); the sibling keeps the new reservation through its follow', async () => {
    // the node the last test killed comes back first
    const up = await cli(['local', 'up', ...tc.args]);
    expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
    const primary = await healed(180_000);
    const [candidate, sibling] = cfg().nodes.map((n) => n.name).filter((n) => n !== primary);
    const tl = await timelineOf(primary);
    // the sibling took part in a promotion to tl + 1 whose node then died before anyone streamed from
    // it (input 8's node2): all the surviving majority has of it is the reservation that promotion
    // recorded on the sibling. Two numbers up, so that a placeholder is needed in between.
    const earlier = tl + 2;
    const s = await sqlTo(cfg(), sibling);
    try {
      await s.query(`SET pgha.reserved_timeline = '${earlier}'`);
      await s.query(`ALTER SYSTEM SET pgha.reserved_timeline = '${earlier}'`);
    } finally {
      await s.end();
    }
    expect(await reservationOf(sibling)).toBe(earlier);
    expect((await repmgrService(primary, 'pause')).exitCode).toBe(0);
    try {
      expect((await cli(['local', 'kill', primary, '--dir', tc.dir])).exitCode).toBe(0);
      const ok = await cli(['failover', '--to', candidate, '--dir', tc.dir]);
      if (ok.exitCode !== 0) console.log(ok.all);
      expect(ok.exitCode).toBe(0);
      expect(await writablePrimaries(cfg())).toEqual([candidate]);
      // PostgreSQL counted up through the placeholders: not tl + 1 (the number the sibling's earlier promotion took)
      expect(await timelineOf(candidate)).toBe(earlier + 1);
      // the new timeline's history names its real parent, never a placeholder
      const history = (await historyOf(candidate, earlier + 1))!.trimEnd().split('\n');
      expect(history[history.length - 1]).toMatch(new RegExp(`^${tl}\\t`));
      expect(await historyOf(candidate, tl + 1)).toContain('reserved by pgha');
      // recorded on the majority it counted on (itself and the sibling), kept through the sibling's follow
      expect(await reservationOf(candidate)).toBe(earlier + 1);
      await waitFor(`${sibling} follows ${candidate}`, async () => (await streamsFrom(sibling)) === candidate, 60_000, 500);
      expect(await reservationOf(sibling)).toBe(earlier + 1);
    } finally {
      await repmgrService(candidate, 'unpause');
    }
    // the old primary comes back as a standby of the new timeline, rewound (repmgr reads the history of
    // its timeline + 1, a placeholder, and finds its own timeline there)
    const back = await cli(['local', 'start', primary, '--dir', tc.dir]);
    expect({ code: back.exitCode, out: back.all }).toMatchObject({ code: 0 });
    expect(await healed(180_000)).toBe(candidate);
    expect(await timelineOf(primary)).toBe(earlier + 1);
    // nobody was re-cloned: no data directory moved aside
    expect(readdirSync(cfg().postgres.dataDir).filter((d) => d.includes('.aside-'))).toEqual([]);
    // barman's archive has no gap in the history files (a recovery counts them one by one): the
    // placeholders came from the new primary beside its real history
    const wals = join(cfg().barman.backupDir, cfg().cluster, 'wals');
    const hist = (t: number) => join(wals, historyFileName(t));
    await waitFor('history files up to the new timeline in barman\'s archive', async () => [tl + 1, earlier, earlier + 1].every((t) => existsSync(hist(t))), 120_000, 500);
    // barman keeps archived files compressed (gzip) under their own names
    const text = (t: number) => {
      const raw = readFileSync(hist(t));
      return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
    };
    expect(text(earlier)).toContain('reserved by pgha');
    expect(text(earlier + 1).trimEnd().split('\n').pop()).toMatch(new RegExp(`^${tl}\t`));
  });
});
