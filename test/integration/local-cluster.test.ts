// One real local cluster (PostgreSQL 15, repmgr, barman, Redis) shared by the checks of the core issue.
// The bootstrap itself is the worker-kill test: node3's worker dies mid-step and `up` is run again.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { execa } from 'execa';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisConnection } from '../../src/redis.js';
import { nodePaths, barmanPaths } from '../../src/config/paths.js';
import { firstStartFlowId } from '../../src/flows/first-start.js';
import { stepJobId } from '../../src/flows/chain.js';
import { barmanQueueName, controlQueueName, nodeQueueName } from '../../src/queues.js';
import { postmasterStatus } from '../../src/postgres/actions.js';
import { isAlive, readPidFile } from '../../src/fsutil.js';
import { secretsOf } from '../../src/config/load.js';
import { cli, repoRoot, sqlTo, testCluster, waitFor, type TestCluster } from './harness.js';
import { PghaClient, PghaError, RefusedError, ValidationError } from '../../src/index.js';

let tc: TestCluster;
let redis: Redis;
let firstUp: { exitCode?: number; all?: string };
let secondUp: { exitCode?: number; all?: string };
let killedWorkerPid: number;
/** Every process's command line, sampled every 200 ms during the first start. */
const psSamples = new Set<string>();

const repmgrAs = (config: ReturnType<TestCluster['config']>, node: string, args: string[]) => {
  const p = nodePaths(config, node);
  return execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${p.passfile}`, 'repmgr', '-f', p.repmgrConf, ...args], { reject: false });
};

beforeAll(async () => {
  tc = await testCluster('core', '127.0.3.11');
  const up = cli(['local', 'up', ...tc.args]);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const ps = await execa('ps', ['-eo', 'args', '--no-headers'], { reject: false });
      for (const line of ps.stdout.split('\n')) psSamples.add(line);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  // wait until the local config exists to learn the redis URL
  await waitFor('pgha.yaml', async () => (await import('node:fs')).existsSync(join(tc.dir, 'pgha.yaml')));
  const config = tc.config();
  redis = redisConnection(config.redis);
  // the last test stops this cluster's redis-server: no reconnect noise after it
  redis.on('error', () => {});
  // node3's worker dies (kill -9) while it runs the wait-primary step
  const queue3 = new Queue(nodeQueueName(config.cluster, 'node3'), { connection: redis });
  const jobId = stepJobId(firstStartFlowId(config.cluster, 'node3'), 'wait-primary');
  // mid-step: active, and the step's first log line written by this worker
  await waitFor('node3 wait-primary running', async () => {
    killedWorkerPid = readPidFile(join(tc.dir, 'pids', 'node3-worker.pid'))!;
    const job = await queue3.getJob(jobId);
    if ((await job?.getState()) !== 'active') return false;
    return (await queue3.getJobLogs(jobId)).logs.some((l) => l.includes(`on pid ${killedWorkerPid}`));
  }, 120_000, 20);
  process.kill(killedWorkerPid, 'SIGKILL');
  await waitFor('worker gone', async () => !isAlive(killedWorkerPid));
  await queue3.close();
  // `up` again: starts the missing worker, enqueues nothing twice, waits like the first one
  const [a, b] = await Promise.all([up, cli(['local', 'up', ...tc.args])]);
  firstUp = a;
  secondUp = b;
  sampling = false;
  await sampler;
}, 600_000);

afterAll(async () => {
  redis?.disconnect();
  await tc?.destroy();
}, 300_000);

describe('local up with 3 nodes', () => {
  it('completes every first-start flow, even with a worker killed mid-step and restarted', async () => {
    expect({ code: firstUp.exitCode, out: firstUp.all }).toMatchObject({ code: 0 });
    expect({ code: secondUp.exitCode, out: secondUp.all }).toMatchObject({ code: 0 });
    expect(firstUp.all).toContain('all flows completed');
    // how to connect: the primary's address, the user and where the password is, never the password
    const cfg = tc.config();
    expect(firstUp.all).toContain(`connect: psql "host=${cfg.nodes[0].host} port=${cfg.postgres.port} user=postgres dbname=postgres" (node1, the primary; password: the seed's default postgres.rootPassword (README, Configuration); set your own as postgres.rootPassword in ${join(tc.dir, 'pgha.yaml')})`);
    expect(firstUp.all).not.toContain(cfg.postgres.rootPassword);
    expect(secondUp.all).toMatch(/node3-worker started \(pid \d+\)/);
    const config = tc.config();
    const newPid = readPidFile(join(tc.dir, 'pids', 'node3-worker.pid'))!;
    expect(newPid).not.toBe(killedWorkerPid);
    expect(isAlive(newPid)).toBe(true);
    // the interrupted step ran again on the new worker
    const q = new Queue(nodeQueueName(config.cluster, 'node3'), { connection: redis });
    const { logs } = await q.getJobLogs(stepJobId(firstStartFlowId(config.cluster, 'node3'), 'wait-primary'));
    const pids = new Set(logs.filter((l) => l.startsWith('step wait-primary')).map((l) => /on pid (\d+)/.exec(l)![1]));
    expect(pids).toEqual(new Set([String(killedWorkerPid), String(newPid)]));
    await q.close();
  });

  it('repmgr cluster show lists one primary and two running standbys', async () => {
    const plain = await repmgrAs(tc.config(), 'node1', ['cluster', 'show']);
    expect(plain.exitCode).toBe(0);
    const rows = plain.stdout.split('\n').filter((l) => /^\s*\d+\s*\|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.map((r) => [r[1], r[2], r[3]])).toEqual([
      ['node1', 'primary', '* running'],
      ['node2', 'standby', 'running'],
      ['node3', 'standby', 'running'],
    ]);
    expect(rows[1][4]).toBe('node1');
    expect(rows[2][4]).toBe('node1');
  });

  it('a row written on node1 is read on node2 and node3', async () => {
    const config = tc.config();
    const primary = await sqlTo(config, 'node1');
    const marker = `row-${Date.now()}`;
    await primary.query('CREATE TABLE IF NOT EXISTS pgha_test (v text)');
    await primary.query('INSERT INTO pgha_test VALUES ($1)', [marker]);
    await primary.end();
    for (const node of ['node2', 'node3']) {
      const c = await sqlTo(config, node);
      const found = await waitFor(`row on ${node}`, async () => (await c.query('SELECT v FROM pgha_test WHERE v = $1', [marker])).rowCount === 1, 10_000);
      expect(found).toBe(true);
      // and the standby refuses writes
      await expect(c.query('INSERT INTO pgha_test VALUES ($1)', ['nope'])).rejects.toThrow(/read-only/);
      await c.end();
    }
  });

  it('barman check passes and one backup is DONE', async () => {
    const config = tc.config();
    const b = barmanPaths(config);
    const check = await execa('runuser', ['-u', 'barman', '--', 'barman', '-c', b.mainConf, 'check', b.server], { reject: false });
    expect({ code: check.exitCode, out: check.stdout }).toMatchObject({ code: 0 });
    expect(check.stdout).not.toMatch(/FAILED/);
    const list = await execa('runuser', ['-u', 'barman', '--', 'barman', '-c', b.mainConf, '-f', 'json', 'list-backups', b.server]);
    const backups = JSON.parse(list.stdout)[b.server] as { status: string }[];
    expect(backups.filter((x) => x.status === 'DONE')).toHaveLength(1);
  });

  it('status --json agrees with repmgr', async () => {
    const config = tc.config();
    const res = await cli(['status', '--json', '--dir', tc.dir]);
    expect(res.exitCode).toBe(0);
    const status = JSON.parse(res.stdout);
    expect(Object.keys(status).sort()).toEqual(['automaticFailover', 'barman', 'cluster', 'nodes', 'redis']);
    expect(status.redis).toEqual({ ok: true });
    expect(status.automaticFailover).toEqual({ paused: false, pausedOn: [], by: null, maintenance: null, message: 'automatic failover on' });
    expect(status.cluster).toBe(config.cluster);
    // repmgr's own metadata: who is registered as what, following whom
    const c = await sqlTo(config, 'node1');
    const meta = await c.query(`SELECT n.node_name, n.type, u.node_name AS upstream FROM repmgr.nodes n LEFT JOIN repmgr.nodes u ON u.node_id = n.upstream_node_id ORDER BY n.node_id`);
    await c.end();
    expect(status.nodes.map((n: any) => [n.name, n.role, n.upstream])).toEqual(meta.rows.map((r) => [r.node_name, r.type, r.upstream]));
    for (const n of status.nodes) {
      expect(Object.keys(n).sort()).toEqual(['host', 'lagBytes', 'lsn', 'name', 'pendingRestart', 'pid', 'port', 'repmgrdPaused', 'role', 'timeline', 'upstream']);
      expect(n.repmgrdPaused).toBe(false);
      expect(n.pendingRestart).toEqual([]);
      expect(n.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(n.timeline).toBe(1);
      expect(n.pid).toBe(postmasterStatus(nodePaths(config, n.name).dataDir)!.pid);
      expect(typeof n.lagBytes).toBe('number');
    }
    expect(status.barman.backups).toHaveLength(1);
    expect(status.barman.backups[0]).toMatchObject({ status: 'DONE' });
    expect(Number.isNaN(Date.parse(status.barman.backups[0].endTime))).toBe(false);
    // the plain form is a table with the same roles
    const table = await cli(['status', '--dir', tc.dir]);
    expect(table.stdout).toMatch(/node1\s+127\.0\.3\.11\s+5432\s+primary/);
    expect(table.stdout).toMatch(/node2\s+127\.0\.3\.12\s+5432\s+standby\s+node1/);
  });

  it('the same flow enqueued twice runs once', async () => {
    const config = tc.config();
    const q = new Queue(nodeQueueName(config.cluster, 'node1'), { connection: redis });
    const before = await q.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed', 'waiting-children']);
    const snapshot = new Map(before.map((j) => [j.id, `${j.processedOn}/${j.finishedOn}/${j.attemptsMade}`]));
    const res = await cli(['flow', 'first-start', 'node1', '--dir', tc.dir]);
    expect(res.exitCode).toBe(0);
    expect(res.stdout.trim()).toBe(firstStartFlowId(config.cluster, 'node1'));
    // a job added again would be in Redis (waiting) the moment the command returned, before any worker
    // takes it: no wait for a run that may or may not come
    const after = await q.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed', 'waiting-children']);
    expect(after.map((j) => j.id).sort()).toEqual([...snapshot.keys()].sort());
    for (const j of after) expect(`${j.processedOn}/${j.finishedOn}/${j.attemptsMade}`).toBe(snapshot.get(j.id));
    await q.close();
  });

  it('a first-start flow run again under a new id changes nothing on a running cluster', async () => {
    const config = tc.config();
    const pidsBefore = config.nodes.map((n) => postmasterStatus(nodePaths(config, n).dataDir)!.pid);
    for (const node of ['node1', 'node2']) {
      const res = await cli(['flow', 'first-start', node, '--dir', tc.dir, '--flow-id', `rerun-${node}`]);
      expect(res.exitCode).toBe(0);
    }
    const q1 = new Queue(nodeQueueName(config.cluster, 'node1'), { connection: redis });
    const q2 = new Queue(nodeQueueName(config.cluster, 'node2'), { connection: redis });
    const last1 = await waitFor('rerun node1 done', async () => {
      const j = await q1.getJob('rerun-node1-start-repmgrd');
      return j && (await j.getState()) === 'completed' ? j : undefined;
    }, 120_000, 200);
    const last2 = await waitFor('rerun node2 done', async () => {
      const j = await q2.getJob('rerun-node2-start-repmgrd');
      return j && (await j.getState()) === 'completed' ? j : undefined;
    }, 120_000, 200);
    expect(last1.returnvalue).toHaveProperty('pid');
    expect(last2.returnvalue).toHaveProperty('pid');
    // nothing was restarted, re-initialised or re-cloned
    expect(config.nodes.map((n) => postmasterStatus(nodePaths(config, n).dataDir)!.pid)).toEqual(pidsBefore);
    const logOf = async (q: Queue, id: string) => (await q.getJobLogs(id)).logs.join('\n');
    expect(await logOf(q1, 'rerun-node1-start-technical-port')).toMatch(/already runs on the consumer port/);
    expect(await logOf(q1, 'rerun-node1-create-users')).toMatch(/role repmgr already exists with the configured password/);
    expect(await logOf(q1, 'rerun-node1-register-primary')).toMatch(/already registered as primary/);
    expect(await logOf(q2, 'rerun-node2-standby-clone')).toMatch(/clone skipped/);
    expect(await logOf(q2, 'rerun-node2-register-standby')).toMatch(/already registered as standby/);
    await q1.close();
    await q2.close();
  });

  it('no secret reaches Redis (every key and value), job logs, the worker logs or ps output during the first start', async () => {
    const config = tc.config();
    const secrets = [...secretsOf(config), tc.dashboard().token];
    expect(secrets.length).toBe(6);
    const keys = await redis.keys('*');
    expect(keys.some((k) => k.startsWith('pgha:{'))).toBe(true); // the flow records are scanned too
    let dump = keys.join('\n');
    for (const k of keys) {
      const type = await redis.type(k);
      if (type === 'hash') dump += JSON.stringify(await redis.hgetall(k));
      else if (type === 'list') dump += JSON.stringify(await redis.lrange(k, 0, -1));
      else if (type === 'string') dump += await redis.get(k);
      else if (type === 'zset') dump += JSON.stringify(await redis.zrange(k, 0, -1));
      else if (type === 'set') dump += JSON.stringify(await redis.smembers(k));
    }
    expect(dump).toContain('create-users'); // the dump really holds the jobs
    for (const s of secrets) expect(dump).not.toContain(s);
    // the samples really saw the cluster's commands (initdb, pg_ctl, repmgr, barman…)
    const ps = [...psSamples].join('\n');
    expect(ps).toMatch(/postgres -D|pg_ctl/);
    expect(ps).toMatch(/repmgr/);
    for (const s of secrets) expect(ps).not.toContain(s);
    const { readFileSync, readdirSync } = await import('node:fs');
    for (const f of readdirSync(join(tc.dir, 'logs'))) {
      const text = readFileSync(join(tc.dir, 'logs', f), 'utf8');
      for (const s of secrets) expect(text).not.toContain(s);
    }
  });

  it('the dashboard serves Bull Board at /queues with every queue of the cluster and the flows\' steps', async () => {
    const config = tc.config();
    const { base, headers } = tc.dashboard();
    expect((await fetch(`${base}/queues`)).status).toBe(401);
    const page = await fetch(`${base}/queues`, { headers });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const api = await fetch(`${base}/queues/api/queues?activeQueue=${encodeURIComponent(nodeQueueName(config.cluster, 'node1'))}&status=completed&page=1`, { headers });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string; jobs: { id: string; name: string }[] }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(
      [...config.nodes.map((n) => nodeQueueName(config.cluster, n.name)), barmanQueueName(config.cluster), controlQueueName(config.cluster)].sort(),
    );
    const node1 = body.queues.find((q) => q.name === nodeQueueName(config.cluster, 'node1'))!;
    expect(node1.jobs.map((j) => j.name)).toEqual(expect.arrayContaining(['start-technical-port', 'register-primary', 'start-repmgrd']));
  });

  it('the typed client (src/client.ts, exported as \'pgha\'), over Redis and over the REST API: status, refusals typed with their fields, a flow started and followed to its end', async () => {
    const { base, token } = tc.dashboard();
    for (const [how, client] of [
      ['direct', PghaClient.connect({ config: tc.config() })],
      ['REST', PghaClient.connect({ url: base, token })],
    ] as const) {
      try {
        const status = await client.status();
        expect(status.nodes.map((n) => n.role).sort()).toEqual(['primary', 'standby', 'standby']);
        const primary = status.nodes.find((n) => n.role === 'primary')!.name;
        const standby = status.nodes.find((n) => n.role === 'standby')!.name;
        const invalid = await client.startFlow('restart', { node: 'node9' }).catch((e: unknown) => e);
        expect(invalid).toBeInstanceOf(ValidationError);
        expect((invalid as ValidationError).details).toEqual([{ path: 'node', message: 'unknown node "node9", known: node1, node2, node3' }]);
        const refused = await client.startFlow('failover', { node: standby }).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(RefusedError);
        expect((refused as RefusedError).reason).toContain(`${primary} still accepts writes`);
        const seen: string[] = [];
        const id = await client.startFlow('backup');
        const flow = await client.waitFlow(id, { timeoutMs: 300_000, onProgress: (f) => seen.push(`${f.done}/${f.total}`) });
        expect(flow).toMatchObject({ flowId: id, scenario: 'backup', state: 'completed', done: 2, total: 2 });
        expect(flow.steps.find((s) => s.step === 'barman-backup')!.returnValue).toMatchObject({ backupId: expect.stringMatching(/^\d{8}T\d{6}$/) });
        expect(seen.at(-1)).toBe('2/2');
        expect((await client.flows(5)).map((f) => f.flowId)).toContain(id);
        expect(Array.isArray(await client.events())).toBe(true);
        const missing = await client.waitFlow('pgha-no-such-flow', { timeoutMs: 5000 }).catch((e: unknown) => e);
        expect({ how, status: (missing as PghaError).status }).toEqual({ how, status: 404 });
      } finally {
        await client.close();
      }
    }
  }, 900_000);

  it("examples/nightly-backup.js, a script on the library's public entry ('pgha'), runs as cron would through either transport: a backup, then OK", async () => {
    const { base } = tc.dashboard();
    const script = join(repoRoot, 'dist', 'examples', 'nightly-backup.js');
    const tokenFile = tc.config().dashboard.tokenFile ?? join(tc.dir, 'dashboard.token');
    for (const args of [['--dir', tc.dir], ['--url', base, '--token-file', tokenFile]]) {
      const r = await execa('node', [script, ...args], { reject: false, all: true, timeout: 600_000 });
      expect({ code: r.exitCode, out: r.all }).toMatchObject({ code: 0, out: expect.stringMatching(/^OK: backup \d{8}T\d{6} \(\d+ bytes\); 3 nodes healthy$/m) });
    }
  }, 1_200_000);

  it('local down leaves no process behind', async () => {
    const config = tc.config();
    const before = tc.pids();
    expect(before.length).toBeGreaterThanOrEqual(3 + 3 + 3 + 3); // workers+dashboard, postmasters, repmgrd, redis...
    const res = await cli(['local', 'down', '--dir', tc.dir], { timeoutMs: 120_000 });
    expect({ code: res.exitCode, out: res.all }).toMatchObject({ code: 0 });
    for (const pid of before) expect({ pid, alive: isAlive(pid) }).toEqual({ pid, alive: false });
    expect(tc.pids()).toEqual([]);
    for (const n of config.nodes) expect(postmasterStatus(nodePaths(config, n).dataDir)).toBeUndefined();
  });
});
