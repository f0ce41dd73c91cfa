// docker-compose.yml run as a user runs it: the images built from the Dockerfile by podman, the
// services started by docker-compose (Debian's 1.29, on podman's Docker API), in a network namespace
// of the test's own (test/engine/podman.ts). What the engine does is what is tested: named volumes,
// the network and its subnet, user:, hostname:, depends_on with health conditions, init:, restart:,
// published ports; the health checks are compose's, run by the engine (`podman healthcheck run`:
// podman's own timers need systemd, which these machines lack). HAProxy in front, as configured by
// deploy/haproxy.cfg.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImages, COMPOSE_IMAGES, composeText, Engine, imageName } from '../engine/podman.js';
import { ComposeCluster, freshDotEnv } from '../engine/cluster.js';
import { DOWNTIME_TABLE, startWriter, twoWritableMoments, writeDowntime } from '../engine/clients.js';
import { repoRoot, waitFor } from './harness.js';
import { FencingSchema } from '../../src/config/schema.js';
import { fencedWithinMs } from '../../src/roles/fence.js';

const id = process.pid % 10_000;
const engine = new Engine(`pgha-ct${id}`);
// a subnet of this run's own: podman's networks are machine-wide objects, though their bridges live in the namespace
const dotEnv = freshDotEnv({ SUBNET: `172.30.${40 + (id % 200)}.0/24` });
const nodes = ['pg1', 'pg2', 'pg3'];
let dir: string;
let cluster: ComposeCluster;
const ctr = (service: string) => cluster.container(service);
const exec = (service: string, args: string[], env: Record<string, string> = {}, timeout = 60_000) => cluster.exec(service, args, env, { timeout });
const status = () => cluster.status();
const roles = (s: any): Record<string, string> => Object.fromEntries(s.nodes.map((n: any) => [n.name, `${n.role}${n.upstream ? `<-${n.upstream}` : ''}`]));

const sql = (node: string, text: string) => cluster.sql(node, text);
const ipOf = (service: string) => cluster.ipOf(service);

/** A query through a published port (HAProxy's), from the namespace: what the server said, or the error. */
async function viaPort(port: number, text: string): Promise<string> {
  const r = await engine.inNetns('/usr/lib/postgresql/15/bin/psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'repmgr', '-d', 'repmgr', '-At', '-c', text], {
    env: { PGPASSWORD: dotEnv.REPMGR_PASSWORD, PGCONNECT_TIMEOUT: '3' },
  });
  return String(r.exitCode === 0 ? r.stdout : r.stderr).trim();
}

/** HTTP status of a node's health endpoint, asked from the namespace. */
async function health(service: string, path: string): Promise<number> {
  const url = `http://${await ipOf(service)}:8008${path}`;
  const r = await engine.inNetns(process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then((r) => console.log(r.status), () => console.log(0))`]);
  return Number(r.stdout);
}

const primaryOf = (r: Record<string, string>, among = nodes) => among.find((n) => r[n] === 'primary');
const fencing = FencingSchema.parse({ afterMs: 1000 });
const figures: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync('/tmp/pgha-test-compose-');
  cluster = new ComposeCluster(engine, `pghact${id}`, repoRoot, dir, dotEnv);
  const took = await buildImages(repoRoot, COMPOSE_IMAGES, (s) => console.log(s));
  figures.push(`images ${COMPOSE_IMAGES.map(imageName).join(', ')} built by podman in ${took.toFixed(0)} s`);
  await engine.start();
  engine.startHealthChecks(cluster.project.name);
  await cluster.up();
}, 1_800_000);

/** Each service's output so far, into the run's folder (kept under test/artifacts/compose). */
async function keepLogs(): Promise<void> {
  for (const s of [...nodes, 'pg4', 'barman', 'dashboard', 'redis', 'haproxy']) {
    const logs = await engine.podman(['logs', ctr(s)], { all: true });
    if (logs.exitCode === 0) writeFileSync(join(dir, `${s}.log`), String(logs.all));
    // PostgreSQL's and repmgrd's own logs live in the node's state volume, which down -v removes
    if (s.startsWith('pg')) await engine.podman(['cp', `${ctr(s)}:/var/lib/pgha/nodes/${s}`, join(dir, `${s}-state`)]);
  }
}

afterAll(async () => {
  if (cluster) {
    await keepLogs();
    await cluster.down();
  }
  await engine.stop();
  console.log(figures.join('\n'));
  // the services' output, kept for a look after a failed run (test/artifacts is not committed)
  if (dir) {
    const kept = join(repoRoot, 'test', 'artifacts', 'compose');
    mkdirSync(kept, { recursive: true });
    // never the passwords: .env and the nodes' passfiles stay behind; best effort (a file that cannot
    // be copied must not fail the suite)
    try {
      cpSync(dir, kept, { recursive: true, filter: (f) => !f.endsWith('.env') && !f.endsWith('/pgpass') });
    } catch (err) {
      console.log(`artifacts not all kept: ${(err as Error).message}`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);

describe('docker-compose.yml on podman, as a user runs it', () => {
  it('the workers start their nodes by themselves: pg1 primary, pg2 and pg3 its standbys, a DONE barman backup, barman streaming from pg1', async () => {
    const s = await waitFor('the cluster up', async () => {
      const st = await status().catch(() => undefined);
      return st && roles(st).pg1 === 'primary' && roles(st).pg2 === 'standby<-pg1' && roles(st).pg3 === 'standby<-pg1' && st.barman.lastBackup ? st : undefined;
    }, 420_000, 2000);
    expect(s.barman.backups.map((b: any) => b.status)).toContain('DONE');
    const senders = await sql('pg1', 'SELECT application_name, client_addr FROM pg_stat_replication ORDER BY 1');
    expect(senders.out.split('\n')).toEqual([`barman_receive_wal|${await ipOf('barman')}`, `pg2|${await ipOf('pg2')}`, `pg3|${await ipOf('pg3')}`]);
  }, 450_000);

  it('a row written on the primary is read on both standbys, which refuse writes', async () => {
    expect(await sql('pg1', 'CREATE TABLE bed (k int); INSERT INTO bed VALUES (42)')).toEqual({ ok: true, out: 'CREATE TABLE\nINSERT 0 1' });
    for (const n of ['pg2', 'pg3']) {
      await waitFor(`row on ${n}`, async () => (await sql(n, 'SELECT k FROM bed')).out === '42', 20_000, 200);
      expect((await sql(n, 'INSERT INTO bed VALUES (1)')).out).toMatch(/read-only transaction/);
    }
  });

  it('the engine runs each service as compose says: subnet, host names, init, restart policy, named volumes, the dashboard as nobody', async () => {
    const net = JSON.parse(String((await engine.podman(['network', 'inspect', cluster.network])).stdout))[0];
    expect(net.subnets.map((x: any) => x.subnet)).toEqual([dotEnv.SUBNET]);
    for (const n of nodes) {
      const c = JSON.parse(String((await engine.podman(['inspect', ctr(n)])).stdout))[0];
      expect({ n, hostname: c.Config.Hostname, init: c.HostConfig.Init, restart: c.HostConfig.RestartPolicy.Name }).toEqual({ n, hostname: n, init: true, restart: 'unless-stopped' });
      const mounts = c.Mounts.filter((m: any) => m.Type === 'volume').map((m: any) => `${m.Name}:${m.Destination}`).sort();
      expect(mounts).toEqual([`${cluster.project.name}_${n}-data:/var/lib/postgresql`, `${cluster.project.name}_${n}-state:/var/lib/pgha`]);
      expect(String((await exec(n, ['hostname'])).stdout).trim()).toBe(n);
    }
    const dash = JSON.parse(String((await engine.podman(['inspect', ctr('dashboard')])).stdout))[0];
    expect(dash.Config.User).toBe('65534:65534');
    // every process of the dashboard's container runs as nobody (uid 65534, read from the host's /proc)
    const pids = String((await engine.podman(['top', ctr('dashboard'), 'hpid'])).stdout).split('\n').slice(1).map(Number).filter(Boolean);
    expect(pids.length).toBeGreaterThan(0);
    const uids = pids.map((p) => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]);
    expect(new Set(uids)).toEqual(new Set(['65534']));
    // and it serves the API on its published port (inside the namespace)
    const r = await engine.inNetns(process.execPath, ['-e', `fetch('http://127.0.0.1:8080/api/status', { headers: { authorization: 'Bearer ' + process.env.TOKEN } }).then((r) => console.log(r.status), () => console.log(0))`], { env: { TOKEN: dotEnv.DASHBOARD_TOKEN } });
    expect(String(r.stdout)).toBe('200');
  });

  it("compose's health checks, run by the engine: healthy everywhere; a node's check fails while its PostgreSQL does not answer", async () => {
    for (const s of [...nodes, 'dashboard', 'redis']) {
      await waitFor(`${s} healthy`, async () => String((await engine.podman(['inspect', '--format', '{{.State.Health.Status}}', ctr(s)])).stdout).trim() === 'healthy', 60_000, 500);
    }
    const top = String((await engine.podman(['top', ctr('pg3'), 'hpid', 'args'])).stdout).split('\n').slice(1);
    const postmaster = Number(top.find((l) => /\/postgres\s+-D/.test(l))!.trim().split(/\s+/)[0]);
    process.kill(postmaster, 'SIGSTOP');
    try {
      const r = await engine.podman(['healthcheck', 'run', ctr('pg3')], { timeout: 30_000 });
      // it answered, and said unhealthy (a check that hung would not prove the check)
      expect({ timedOut: r.timedOut, code: r.exitCode }).toEqual({ timedOut: false, code: 1 });
    } finally {
      process.kill(postmaster, 'SIGCONT');
    }
    expect((await engine.podman(['healthcheck', 'run', ctr('pg3')])).exitCode).toBe(0);
  });

  it('HAProxy: the write port reaches the primary, the read port only standbys, and never one lagging past 16 MB', async () => {
    const [p1, p2, p3] = await Promise.all(nodes.map(ipOf));
    expect(await viaPort(5000, 'SELECT pg_is_in_recovery(), inet_server_addr()')).toBe(`f|${p1}`);
    await waitFor('both standbys behind the read port', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) seen.add(await viaPort(5001, 'SELECT inet_server_addr()'));
      return seen.size === 2 && seen.has(p2) && seen.has(p3);
    }, 30_000, 500);
    // pg3 stops replaying and falls 30 MB behind: its /replica?lag=16MB says 503 and HAProxy leaves it out
    expect((await sql('pg3', 'SELECT pg_wal_replay_pause()')).ok).toBe(true);
    try {
      expect((await sql('pg1', "CREATE TABLE lag_filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 30000) g")).ok).toBe(true);
      await waitFor('pg3 too far behind for /replica?lag=16MB', async () => (await health('pg3', '/replica?lag=16MB')) === 503, 30_000, 500);
      // HAProxy's check: fall 2 at inter 1s
      await waitFor('the read port past pg3', async () => {
        for (let i = 0; i < 8; i++) if ((await viaPort(5001, 'SELECT inet_server_addr()')) !== p2) return false;
        return true;
      }, 15_000, 500);
      for (let i = 0; i < 10; i++) expect(await viaPort(5001, 'SELECT pg_is_in_recovery(), inet_server_addr()')).toBe(`t|${p2}`);
    } finally {
      await sql('pg3', 'SELECT pg_wal_replay_resume()');
      await sql('pg1', 'DROP TABLE IF EXISTS lag_filler');
    }
  });

  it('pg1 killed (podman kill: the host is gone): a standby is promoted, the other follows, writes through HAProxy resume with nothing acknowledged lost; started again, pg1 rejoins as a standby', async () => {
    expect((await sql('pg1', DOWNTIME_TABLE)).ok).toBe(true);
    const ips = await Promise.all(nodes.map(ipOf));
    const writers = [
      startWriter(engine, 'haproxy-kill', 'host=127.0.0.1 port=5000 user=repmgr dbname=repmgr', dotEnv.REPMGR_PASSWORD),
      startWriter(engine, 'multihost-kill', `host=${ips.join(',')} port=5432 user=repmgr dbname=repmgr target_session_attrs=read-write`, dotEnv.REPMGR_PASSWORD),
    ];
    let after: { p: string; other: string };
    try {
      await waitFor('both writers writing', async () => writers.every((w) => w.acked().length >= 10), 30_000, 100);
      const killedAt = Date.now();
      expect((await engine.podman(['kill', ctr('pg1')])).exitCode).toBe(0);
      after = await waitFor('a new primary and the other standby following it', async () => {
        const r = roles(await status());
        const p = primaryOf(r, ['pg2', 'pg3']);
        const other = p === 'pg2' ? 'pg3' : 'pg2';
        return p && r[other] === `standby<-${p}` ? { p, other } : undefined;
      }, 120_000, 1000);
      await waitFor('both writers writing again', async () => writers.every((w) => w.tries.some((x) => x.ok && x.t > killedAt + 1000)), 60_000, 200);
      for (const w of writers) figures.push(`kill of pg1: write downtime seen by ${w.client}: ${(writeDowntime(w.tries, killedAt)! / 1000).toFixed(1)} s`);
    } finally {
      for (const w of writers) w.stop();
    }
    // every write a client saw acknowledged is on the new primary
    for (const w of writers) {
      const acked = w.acked();
      expect((await sql(after.p, `SELECT count(*) FROM downtime WHERE client = '${w.client}' AND k = ANY('{${acked.join(',')}}'::int[])`)).out).toBe(String(acked.length));
    }
    expect((await engine.podman(['start', ctr('pg1')])).exitCode).toBe(0);
    await waitFor(`pg1 a standby of ${after.p}`, async () => roles(await status()).pg1 === `standby<-${after.p}`, 240_000, 2000);
    expect((await sql('pg1', 'INSERT INTO bed VALUES (2)')).out).toMatch(/read-only transaction/);
  }, 480_000);

  it("a container whose processes die (its init killed from the host) is restarted by the engine's restart policy and comes back in its role", async () => {
    const before = roles(await status());
    const standby = nodes.find((n) => before[n].startsWith('standby'))!;
    const restarts = async () => Number((await engine.podman(['inspect', '--format', '{{.RestartCount}}', ctr(standby)])).stdout);
    const n0 = await restarts();
    process.kill(await engine.pidOf(ctr(standby)), 'SIGKILL');
    await waitFor(`${standby} restarted by the engine`, async () => (await restarts()) > n0 && (await engine.pidOf(ctr(standby)).catch(() => 0)) > 0, 60_000, 500);
    await waitFor(`${standby} back as ${before[standby]}`, async () => roles(await status())[standby] === before[standby], 180_000, 2000);
  }, 300_000);

  it('the primary cut off the network: it stops taking writes within the fence budget, a standby is promoted, never two writable nodes in samples from inside each container; reconnected, it rejoins', async () => {
    const before = roles(await status());
    const old = primaryOf(before)!;
    const standbys = nodes.filter((n) => n !== old);
    expect((await sql(old, 'CREATE TABLE IF NOT EXISTS split_probe (node text, at timestamptz DEFAULT clock_timestamp())')).ok).toBe(true);
    for (const n of standbys) await waitFor(`split_probe on ${n}`, async () => (await sql(n, 'SELECT count(*) FROM split_probe')).ok, 20_000, 200);
    const samplers = nodes.map((n) => cluster.sampler(n));
    const haproxyWriter = startWriter(engine, 'haproxy-cut', 'host=127.0.0.1 port=5000 user=repmgr dbname=repmgr', dotEnv.REPMGR_PASSWORD);
    let connected = true;
    try {
      await waitFor('every sampler running', async () => samplers.every((x) => x.samples.length >= 5) && haproxyWriter.acked().length >= 5, 30_000, 100);
      const cutAt = await cluster.cut(old);
      connected = false;
      const oldSampler = samplers.find((x) => x.node === old)!;
      // fenced: the first refusal after its last accepted write, once five refusals in a row say so
      // (a single failure right after the cut, a write caught by the cut itself, is no fence)
      const fencedAt = await waitFor(`${old} refuses writes`, async () => {
        const after = oldSampler.samples.filter((y) => y.t > cutAt);
        const lastOk = after.map((y) => y.ok).lastIndexOf(true);
        const refused = after.slice(lastOk + 1);
        return refused.length >= 5 ? refused[0]!.t : undefined;
      }, 15_000, 50);
      const budget = fencedWithinMs(fencing);
      const promoted = await waitFor('a standby promoted', async () => samplers.filter((x) => x.node !== old).find((x) => x.samples.some((y) => y.ok && y.t > cutAt)), 90_000, 100);
      const promotedAt = promoted.samples.find((y) => y.ok && y.t > cutAt)!.t;
      figures.push(`cut of ${old}: writes refused there ${fencedAt - cutAt} ms after the cut (budget ${budget} ms), ${promoted.node} took writes ${((promotedAt - cutAt) / 1000).toFixed(1)} s after`);
      expect(fencedAt - cutAt).toBeLessThanOrEqual(budget + 200);
      expect(promotedAt).toBeGreaterThan(fencedAt);
      await waitFor('writes through HAProxy again', async () => haproxyWriter.tries.some((x) => x.ok && x.t > promotedAt), 60_000, 200);
      figures.push(`cut of ${old}: write downtime seen by haproxy-cut: ${(writeDowntime(haproxyWriter.tries, cutAt)! / 1000).toFixed(1)} s`);
      // refused for the whole cut, not one slow sample
      const healAt = Date.now();
      expect(oldSampler.samples.filter((y) => y.ok && y.t > fencedAt && y.t < healAt)).toEqual([]);
      await cluster.heal(old);
      connected = true;
      await waitFor(`${old} a standby of ${promoted.node}`, async () => roles(await status())[old] === `standby<-${promoted.node}`, 240_000, 2000);
    } finally {
      for (const x of samplers) x.stop();
      haproxyWriter.stop();
      if (!connected) await cluster.heal(old);
    }
    expect(twoWritableMoments(samplers)).toEqual([]);
  }, 480_000);

  it('a switchover through the CLI: writes through HAProxy pause briefly and go to the new primary', async () => {
    const before = roles(await status());
    const from = primaryOf(before)!;
    const to = nodes.find((n) => n !== from)!;
    const w = startWriter(engine, 'haproxy-switchover', 'host=127.0.0.1 port=5000 user=repmgr dbname=repmgr', dotEnv.REPMGR_PASSWORD);
    try {
      await waitFor('the writer writing', async () => w.acked().length >= 10, 30_000, 100);
      const startedAt = Date.now();
      const sw = await exec('dashboard', ['node', '/app/bin/pgha.js', 'switchover', '--to', to], {}, 300_000);
      if (sw.exitCode !== 0) throw new Error(`pgha switchover --to ${to} exited ${sw.exitCode}:\n${sw.stdout}${sw.stderr}`);
      await waitFor('writes on the new primary through HAProxy', async () => (await viaPort(5000, 'SELECT inet_server_addr()')) === (await ipOf(to)) && w.tries.some((x) => x.ok && x.t > Date.now() - 500), 60_000, 200);
      figures.push(`switchover ${from} → ${to}: write downtime seen by haproxy-switchover: ${(writeDowntime(w.tries, startedAt)! / 1000).toFixed(1)} s`);
    } finally {
      w.stop();
    }
    const acked = w.acked();
    expect((await sql(to, `SELECT count(*) FROM downtime WHERE client = 'haproxy-switchover' AND k = ANY('{${acked.join(',')}}'::int[])`)).out).toBe(String(acked.length));
  }, 420_000);

  it('a node added as the README says: pg4 clones itself from the primary of the moment; the others take the new list one at a time, the primary after a switchover', async () => {
    // the compose file after a user's edit: pg4 appended to PGHA_NODES, a service like pg3, two volumes
    const text = composeText(repoRoot);
    const grownText = text
      .replace(/(PGHA_NODES: "\[.*)\]"/, '$1, {name: pg4, host: pg4}]"')
      .replace('\n  barman:\n', '\n  pg4:\n    <<: *pg-node\n    hostname: pg4\n    command: ["worker", "node", "--name", "pg4"]\n    volumes:\n      - pg4-data:/var/lib/postgresql\n      - pg4-state:/var/lib/pgha\n\n  barman:\n')
      .replace('\nvolumes:\n', '\nvolumes:\n  pg4-data:\n  pg4-state:\n');
    expect(grownText).not.toBe(text);
    // from here the project runs from the grown file (down removes pg4's volumes too)
    cluster.grow(grownText, dir);
    const upNoDeps = (s: string) => cluster.compose(['up', '-d', '--no-build', '--no-deps', s], { timeout: 300_000 });
    const all = [...nodes, 'pg4'];
    const primary = primaryOf(roles(await status()))!;
    const pg4 = await upNoDeps('pg4');
    if (pg4.exitCode !== 0) throw new Error(`docker-compose up pg4: ${pg4.all}`);
    // read where the new list is: pg4's container, then the recreated dashboard
    const rolesFrom = (service: string) => cluster.roles(service).catch(() => ({}) as Record<string, string>);
    /** `node` streams from whichever node is the primary now (an automatic failover may have moved it). */
    const inRole = (r: Record<string, string>, node: string) => r[node]?.startsWith('standby<-') && r[r[node].slice('standby<-'.length)] === 'primary';
    await waitFor(`pg4 a standby of ${primary}`, async () => (await rolesFrom('pg4')).pg4 === `standby<-${primary}`, 300_000, 2000);
    expect((await sql(primary, 'CREATE TABLE IF NOT EXISTS bed (k int); INSERT INTO bed VALUES (44)')).ok).toBe(true);
    await waitFor('the row on pg4', async () => (await sql('pg4', 'SELECT count(*) FROM bed WHERE k = 44')).out === '1', 30_000, 500);
    const standbys = nodes.filter((n) => n !== primary);
    for (const s of [...standbys, 'barman', 'dashboard']) {
      const r = await upNoDeps(s);
      if (r.exitCode !== 0) throw new Error(`docker-compose up ${s}: ${r.all}`);
      if (standbys.includes(s)) await waitFor(`${s} back as a standby`, async () => inRole(await rolesFrom('pg4'), s), 240_000, 2000);
    }
    // the node not recreated yet, last: after a switchover when it is still the primary (an automatic
    // failover while the others were recreated already made it a standby: then it is recreated as one)
    await waitFor('the dashboard sees one primary and every other node streaming from it', async () => {
      const r = await rolesFrom('dashboard');
      const p = primaryOf(r, all);
      return p !== undefined && all.every((n) => n === p || inRole(r, n));
    }, 180_000, 2000);
    const now = primaryOf(await rolesFrom('dashboard'), all)!;
    if (now !== primary) figures.push(`node add: an automatic failover moved the primary from ${primary} to ${now} while the nodes were recreated`);
    if (now === primary) {
      const sw = await exec('dashboard', ['node', '/app/bin/pgha.js', 'switchover', '--to', standbys[0]], {}, 300_000);
      if (sw.exitCode !== 0) throw new Error(`pgha switchover --to ${standbys[0]} exited ${sw.exitCode}:\n${sw.stdout}${sw.stderr}`);
    }
    const last = await upNoDeps(primary);
    if (last.exitCode !== 0) throw new Error(`docker-compose up ${primary}: ${last.all}`);
    const after = await waitFor('four nodes, one primary, three standbys following it', async () => {
      const r = await rolesFrom('pg4');
      const p = primaryOf(r, all);
      return p !== undefined && p !== primary && all.every((n) => n === p || r[n] === `standby<-${p}`) ? r : undefined;
    }, 300_000, 2000);
    expect(Object.keys(after).sort()).toEqual(all);
    await waitFor('the row everywhere', async () => (await Promise.all(all.map((n) => sql(n, 'SELECT count(*) FROM bed WHERE k = 44')))).every((r) => r.out === '1'), 30_000, 500);
  }, 1_500_000);

  it('down removes every container, volume and the network; the namespace goes with the engine', async () => {
    await keepLogs();
    const down = await cluster.down();
    expect(down.exitCode).toBe(0);
    expect(String((await engine.podman(['ps', '-a', '--filter', `name=${cluster.project.name}_`, '--format', '{{.Names}}'])).stdout).trim()).toBe('');
    expect(String((await engine.podman(['volume', 'ls', '--format', '{{.Name}}'])).stdout).split('\n').filter((v) => v.startsWith(`${cluster.project.name}_`))).toEqual([]);
    expect((await engine.podman(['network', 'exists', cluster.network])).exitCode).not.toBe(0);
    await engine.stop();
    expect(existsSync(engine.netns)).toBe(false);
  }, 400_000);
});
