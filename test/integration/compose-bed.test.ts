// docker-compose.yml's own cluster on the multi-host test bed, from the Dockerfile's own images: the
// images are built without a Docker engine (test/image/build.ts), and each compose service runs its
// image with its environment in a network namespace of its own and a mount namespace where the image
// is overlaid and its volumes bound, reaching the others by service name, as containers would. No
// setting is added for the test but the .env's passwords.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NetnsBed } from '../bed/netns.js';
import { twoWritableMoments, writeSampler } from '../bed/samplers.js';
import { readCompose, startOrder, interpolate, type ComposeService } from '../bed/compose.js';
import { buildImages, type Image } from '../image/build.js';
import { cliPath, repoRoot, waitFor } from './harness.js';
import { isAlive } from '../../src/fsutil.js';
import { FencingSchema } from '../../src/config/schema.js';
import { fencedWithinMs } from '../../src/roles/fence.js';
import { execa } from 'execa';

const secret = () => randomBytes(12).toString('hex');
// what a user's .env holds (see .env.example)
const dotEnv = {
  POSTGRES_ROOT_PASSWORD: secret(),
  REPMGR_PASSWORD: secret(),
  REPMGR_STREAMING_PASSWORD: secret(),
  BARMAN_PASSWORD: secret(),
  BARMAN_STREAMING_PASSWORD: secret(),
  DASHBOARD_TOKEN: randomBytes(24).toString('hex'),
};
const compose = readCompose(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), dotEnv);
const svc = (name: string) => compose.services.find((s) => s.name === name) ?? grownSvc(name);

/** The compose file after a user adds node `name` as the README says: appended to PGHA_NODES, a service like pg3, two volumes. */
function withNode(text: string, name: string): string {
  const out = text
    .replace(/(PGHA_NODES: "\[.*)\]"/, `$1, {name: ${name}, host: ${name}}]"`)
    .replace('\n  barman:\n', `\n  ${name}:\n    <<: *pg-node\n    hostname: ${name}\n    command: ["worker", "node", "--name", "${name}"]\n    volumes:\n      - ${name}-data:/var/lib/postgresql\n      - ${name}-state:/var/lib/pgha\n\n  barman:\n`)
    .replace('\nvolumes:\n', `\nvolumes:\n  ${name}-data:\n  ${name}-state:\n`);
  if (out === text) throw new Error('docker-compose.yml no longer has the shape withNode edits');
  return out;
}
const grown = readCompose(withNode(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), 'pg4'), dotEnv);
const grownSvc = (name: string) => grown.services.find((s) => s.name === name)!;
const nodes = ['pg1', 'pg2', 'pg3'];
// the machine's folders the volumes' paths need, and whether they were there before
const mountPaths = ['/data', '/var/lib/pgha', '/home/barman'].filter((d) => !existsSync(d));
let bed: NetnsBed;
let dir: string;
let imagesDir: string;
let images: Map<string, Image>;
/** Start a service from its image, as `docker compose up` would (redis: the machine's redis-server, the bed's stand-in for redis:7). */
const up = (s: ComposeService) => bed.start(s, dir, s.buildTarget ? images.get(s.buildTarget) : undefined);

/** The processes of a service: pid, uid, command line, and the root folder they see (one that exits while listed, such as a health check's, is left out). */
async function processesOf(service: string): Promise<{ pid: number; uid: number; cmd: string[]; root: string }[]> {
  return (await bed.pids(service)).flatMap((pid) => {
    try {
      return [{
        pid,
        uid: Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]),
        cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean),
        root: readlinkSync(`/proc/${pid}/root`),
      }];
    } catch {
      return [];
    }
  });
}

/** A command inside a service's namespace with that service's environment (as `docker compose exec`). */
const inService = (service: ComposeService, command: string, args: string[], env: Record<string, string> = {}, timeout = 30_000) =>
  bed.exec(service.name, command, args, { env: { PATH: process.env.PATH!, ...service.environment, ...env }, extendEnv: false, reject: false, timeout });

async function status(): Promise<any> {
  const r = await inService(svc('dashboard'), process.execPath, [cliPath, 'status', '--json']);
  if (r.exitCode !== 0) throw new Error(`pgha status: ${r.stderr}`);
  return JSON.parse(String(r.stdout));
}

async function sql(node: string, text: string): Promise<{ ok: boolean; out: string }> {
  const r = await inService(svc(node), 'psql', ['-h', node, '-U', 'repmgr', '-d', 'repmgr', '-At', '-c', text], { PGPASSWORD: dotEnv.REPMGR_PASSWORD, PGCONNECT_TIMEOUT: '3' });
  return { ok: r.exitCode === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

const roles = (s: any) => Object.fromEntries(s.nodes.map((n: any) => [n.name, `${n.role}${n.upstream ? `<-${n.upstream}` : ''}`]));
const fencing = FencingSchema.parse({ afterMs: Number(svc('pg1').environment.PGHA_FENCING_AFTER_MS) });

beforeAll(async () => {
  // the images, built from the Dockerfile without a Docker engine (test/image/build.ts)
  imagesDir = mkdtempSync('/tmp/pgha-test-images-');
  const started = Date.now();
  images = await buildImages(repoRoot, [...new Set(compose.services.map((s) => s.buildTarget).filter((t): t is string => !!t))], imagesDir);
  console.log(`images ${[...images.keys()].join(', ')} built from the Dockerfile in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  // pg4's namespace is there from the start: the node added later (as Docker would make its container)
  bed = new NetnsBed(grown.services.map((s) => s.name), undefined, compose.subnet);
  dir = mkdtempSync('/tmp/pgha-test-bed-');
  chmodSync(dir, 0o755);
  await bed.up();
  for (const s of startOrder(compose.services)) {
    up(s);
    if (s.kind === 'redis') await waitFor('redis answers', async () => (await inService(s, 'redis-cli', ['ping'])).stdout === 'PONG', 20_000, 200);
  }
}, 900_000);

afterAll(async () => {
  await bed?.down();
  // each service's output, kept for a failed run (test/artifacts is not committed)
  if (dir) for (const s of grown.services) if (existsSync(join(dir, `${s.name}.log`))) cpSync(join(dir, `${s.name}.log`), join(repoRoot, 'test', 'artifacts', 'compose-bed', `${s.name}.log`));
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (imagesDir) rmSync(imagesDir, { recursive: true, force: true });
});

describe('the compose file on the namespace test bed', () => {
  it('reads compose: every service, its .env passwords, the start order and the subnet', () => {
    expect(startOrder(compose.services).map((s) => s.name)[0]).toBe('redis');
    expect(svc('pg2').environment.PGHA_REPMGR_PASSWORD).toBe(dotEnv.REPMGR_PASSWORD);
    expect(svc('pg1').command).toEqual(['worker', 'node', '--name', 'pg1']);
    expect(svc('pg1').volumes).toEqual([{ source: 'pg1-data', target: '/var/lib/postgresql' }, { source: 'pg1-state', target: '/var/lib/pgha' }]);
    expect(compose.subnet).toBe('172.30.42.0/24');
    expect(() => interpolate('${NOPE:?set NOPE in .env}', {})).toThrow(/NOPE is not set: set NOPE in \.env/);
    expect(interpolate('a${X:-b}c', {})).toBe('abc');
  });

  it('the workers start their nodes by themselves: pg1 primary, pg2 and pg3 its standbys, a barman backup', async () => {
    const s = await waitFor('the cluster up', async () => {
      const st = await status();
      return roles(st).pg1 === 'primary' && roles(st).pg2 === 'standby<-pg1' && roles(st).pg3 === 'standby<-pg1' && st.barman.lastBackup ? st : undefined;
    }, 300_000, 2000);
    expect(s.nodes.map((n: any) => n.host)).toEqual(['pg1', 'pg2', 'pg3']);
    expect(s.barman.backups.map((b: any) => b.status)).toContain('DONE');
    // barman (its own host) streams WAL from pg1, beside the two standbys
    const senders = await sql('pg1', "SELECT application_name, client_addr FROM pg_stat_replication ORDER BY 1");
    expect(senders.out.split('\n')).toEqual([`barman_receive_wal|${bed.service('barman').ip}`, `pg2|${bed.service('pg2').ip}`, `pg3|${bed.service('pg3').ip}`]);
  }, 320_000);

  it('a row written on the primary is read on both standbys, which refuse writes', async () => {
    expect(await sql('pg1', 'CREATE TABLE bed (k int); INSERT INTO bed VALUES (42)')).toEqual({ ok: true, out: 'CREATE TABLE\nINSERT 0 1' });
    for (const n of ['pg2', 'pg3']) {
      await waitFor(`row on ${n}`, async () => (await sql(n, 'SELECT k FROM bed')).out === '42', 20_000, 200);
      expect((await sql(n, 'INSERT INTO bed VALUES (1)')).out).toMatch(/read-only transaction/);
    }
  });

  it('each service runs its image as its container would: ENTRYPOINT + command, in the image\'s root under a layer of its own, as the image\'s users', async () => {
    for (const name of ['pg1', 'barman', 'dashboard']) {
      const ps = await processesOf(name);
      const worker = ps.find((p) => p.cmd.includes('/app/bin/pgha.js'))!;
      expect(worker.cmd).toEqual(['node', '/app/bin/pgha.js', ...svc(name).command]);
      // every process of the service sees the container's root, not the machine's
      for (const p of ps) expect(p.root).toBe(join(dir, '.containers', name, 'merged'));
    }
    // PostgreSQL runs as the image's postgres user (its uid comes from the image, not from this machine)
    const postgresUid = readFileSync(join(images.get('node')!.rootfs, 'etc/passwd'), 'utf8').match(/^postgres:x:(\d+):/m)![1];
    const postmaster = (await processesOf('pg1')).find((p) => p.cmd[0].endsWith('/postgres'))!;
    expect(String(postmaster.uid)).toBe(postgresUid);
    expect(images.get('dashboard')!.user).toBe('65534:65534');
  });

  it('the compose health checks pass inside each container (node → its /health, dashboard → /metrics), with the container\'s host name', async () => {
    for (const name of ['pg1', 'pg2', 'pg3', 'dashboard']) {
      const check = svc(name).healthcheck!;
      expect(check.join(' ')).toMatch(/:8008\/health|:8080\/metrics/);
      const r = await bed.execInContainer(name, check, { timeout: 10_000 });
      expect({ name, code: r.exitCode }).toEqual({ name, code: 0 });
    }
    expect((await bed.execInContainer('pg2', ['hostname'])).stdout).toBe('pg2');
    // and it fails where PostgreSQL does not answer: pg3's health check while its PostgreSQL is stopped for a moment
    const pm = (await processesOf('pg3')).find((p) => p.cmd[0].endsWith('/postgres'))!;
    process.kill(pm.pid, 'SIGSTOP');
    try {
      const r = await bed.execInContainer('pg3', svc('pg3').healthcheck!, { timeout: 15_000 });
      expect(r.exitCode).not.toBe(0);
    } finally {
      process.kill(pm.pid, 'SIGCONT');
    }
  });

  it('the dashboard runs as compose says, unprivileged (nobody), and serves its page', async () => {
    expect(svc('dashboard').user).toBe('65534:65534');
    const ps = await processesOf('dashboard');
    expect(ps.length).toBeGreaterThan(0);
    for (const p of ps) expect(p.uid).toBe(65534);
    const port = svc('dashboard').environment.PGHA_DASHBOARD_PORT;
    const fetchCode = `fetch('http://dashboard:${port}/api/status', { headers: { authorization: 'Bearer ' + process.env.TOKEN } }).then((r) => console.log(r.status), () => console.log(0))`;
    await waitFor('the dashboard answers', async () => (await inService(svc('pg1'), process.execPath, ['-e', fetchCode], { TOKEN: dotEnv.DASHBOARD_TOKEN })).stdout === '200', 30_000, 500);
  });

  it('the health checks answer by role on each node, reached by service name', async () => {
    const code = async (node: string, path: string) =>
      Number((await inService(svc('dashboard'), process.execPath, ['-e', `fetch('http://${node}:8008${path}').then((r) => console.log(r.status), () => console.log(0))`])).stdout);
    expect(await code('pg1', '/primary')).toBe(200);
    expect(await code('pg2', '/primary')).toBe(503);
    expect(await code('pg2', '/replica')).toBe(200);
  });

  it('pg1 killed (as docker kill): a standby is promoted, the other follows; pg1 started again comes back as a standby', async () => {
    await bed.kill('pg1');
    const after = await waitFor('a new primary', async () => {
      const r = roles(await status());
      const p = r.pg2 === 'primary' ? 'pg2' : r.pg3 === 'primary' ? 'pg3' : undefined;
      const other = p === 'pg2' ? 'pg3' : 'pg2';
      return p && r[other] === `standby<-${p}` ? { p, other } : undefined;
    }, 90_000, 1000);
    expect((await sql(after.p, 'INSERT INTO bed VALUES (43)')).ok).toBe(true);
    // the container restarts: the worker decides by itself (rejoin by pg_rewind)
    up(svc('pg1'));
    await waitFor('pg1 a standby of the new primary', async () => roles(await status()).pg1 === `standby<-${after.p}`, 180_000, 2000);
    await waitFor('the row on pg1', async () => (await sql('pg1', 'SELECT count(*) FROM bed WHERE k = 43')).out === '1', 30_000, 500);
    expect((await sql('pg1', 'INSERT INTO bed VALUES (2)')).out).toMatch(/read-only transaction/);
  }, 300_000);

  it('the primary cut off the network: it stops taking writes within the fence budget, a standby is promoted, no two writable primaries in 200 ms samples from inside each namespace; healed, it rejoins as a standby', async () => {
    const before = roles(await status());
    const old = nodes.find((n) => before[n] === 'primary')!;
    const standbys = nodes.filter((n) => n !== old);
    expect(standbys.map((n) => before[n])).toEqual(standbys.map(() => `standby<-${old}`));
    expect((await sql(old, 'CREATE TABLE split_probe (node text, at timestamptz DEFAULT clock_timestamp())')).ok).toBe(true);
    for (const n of standbys) await waitFor(`split_probe on ${n}`, async () => (await sql(n, 'SELECT count(*) FROM split_probe')).ok, 20_000, 200);
    const samplers = nodes.map((n) => writeSampler(n, (script, env) => bed.exec(n, process.execPath, ['-e', script], { cwd: repoRoot, env: { ...env, PATH: process.env.PATH! }, extendEnv: false, reject: false, buffer: false }), dotEnv.REPMGR_PASSWORD));
    let healed = false;
    try {
      await waitFor('every sampler running', async () => samplers.every((x) => x.samples.length >= 5), 20_000, 100);
      expect(samplers.find((x) => x.node === old)!.samples.slice(-3).every((x) => x.ok)).toBe(true);
      const cutAt = Date.now();
      await bed.cut(old);
      const oldSampler = samplers.find((x) => x.node === old)!;
      const fencedAt = await waitFor(`${old} refuses writes`, async () => {
        const last = oldSampler.samples.at(-1);
        return last && !last.ok && last.t > cutAt ? last.t : undefined;
      }, 10_000, 50);
      const budget = fencedWithinMs(fencing);
      const promoted = await waitFor('a standby promoted', async () => samplers.filter((x) => x.node !== old).find((x) => x.samples.at(-1)?.ok), 60_000, 100);
      const promotedAt = promoted.samples.find((x) => x.ok && x.t > cutAt)!.t;
      console.log(`cut ${old}: writes refused there ${fencedAt - cutAt} ms after the cut (budget ${budget} ms + one 200 ms sample); ${promoted.node} took writes ${promotedAt - cutAt} ms after the cut`);
      expect(fencedAt - cutAt).toBeLessThanOrEqual(budget + 200);
      expect(promotedAt).toBeGreaterThan(fencedAt);
      // its worker said why: it heard from no majority, not that PostgreSQL died
      expect(readFileSync(join(dir, `${old}.log`), 'utf8')).toMatch(new RegExp(`FENCING ${old}: writable, but last saw a majority of the 3 nodes \\d+ ms ago`));
      await bed.heal(old);
      healed = true;
      await waitFor(`${old} a standby of ${promoted.node}`, async () => roles(await status())[old] === `standby<-${promoted.node}`, 180_000, 2000);
      const other = standbys.find((n) => n !== promoted.node)!;
      await waitFor(`${other} follows ${promoted.node}`, async () => roles(await status())[other] === `standby<-${promoted.node}`, 60_000, 2000);
    } finally {
      for (const x of samplers) x.stop();
      // the tests after this one need the whole network
      if (!healed) await bed.heal(old);
    }
    // from every namespace, every 200 ms: never two nodes taking writes at once
    const moments = twoWritableMoments(samplers);
    for (const x of samplers) {
      const gaps = x.samples.slice(1).map((y, i) => y.t - x.samples[i].t);
      expect({ node: x.node, maxGapMs: Math.max(...gaps) < 1000 }).toEqual({ node: x.node, maxGapMs: true });
    }
    console.log(`samples: ${samplers.map((x) => `${x.node} ${x.samples.length} (${x.samples.filter((y) => y.ok).length} writes)`).join(', ')}; moments with two writable nodes: ${moments.length}`);
    expect(moments).toEqual([]);
  }, 400_000);

  it('a node added to the running cluster as the README says: pg4 clones itself from the primary of the moment; the others take the new list one at a time, the primary after a switchover', async () => {
    const before = roles(await status());
    const primary = nodes.find((n) => before[n] === 'primary')!;
    // as `docker compose up -d --no-deps pg4`: only the new service starts
    up(grownSvc('pg4'));
    const statusWithPg4 = async () => {
      const r = await inService(grownSvc('dashboard'), process.execPath, [cliPath, 'status', '--json']);
      if (r.exitCode !== 0) throw new Error(`pgha status: ${r.stderr}`);
      return roles(JSON.parse(String(r.stdout)));
    };
    await waitFor(`pg4 a standby of ${primary}`, async () => (await statusWithPg4()).pg4 === `standby<-${primary}`, 180_000, 2000);
    expect((await sql(primary, 'INSERT INTO bed VALUES (44)')).ok).toBe(true);
    await waitFor('the row on pg4', async () => (await sql('pg4', 'SELECT count(*) FROM bed WHERE k = 44')).out === '1', 30_000, 500);
    // then each service is recreated with the new list (standbys first, one at a time), each back in its role
    const standbys = nodes.filter((n) => n !== primary);
    for (const name of [...standbys, 'barman', 'dashboard']) {
      await bed.kill(name);
      up(grownSvc(name));
      if (standbys.includes(name)) await waitFor(`${name} back as a standby`, async () => (await statusWithPg4())[name] === `standby<-${primary}`, 180_000, 2000);
    }
    // the primary last, after a planned switchover to a standby that has the new list
    const to = standbys[0];
    const sw = await inService(grownSvc('dashboard'), process.execPath, [cliPath, 'switchover', '--to', to], {}, 180_000);
    expect({ code: sw.exitCode, out: `${sw.stdout}${sw.stderr}` }).toMatchObject({ code: 0 });
    await bed.kill(primary);
    up(grownSvc(primary));
    const after = await waitFor('four nodes, one primary, three standbys following it', async () => {
      const r = await statusWithPg4();
      return [...nodes, 'pg4'].every((n) => n === to ? r[n] === 'primary' : r[n] === `standby<-${to}`) ? r : undefined;
    }, 180_000, 2000);
    expect(Object.keys(after).sort()).toEqual(['pg1', 'pg2', 'pg3', 'pg4']);
    await waitFor('the row everywhere', async () => (await Promise.all([...nodes, 'pg4'].map((n) => sql(n, 'SELECT count(*) FROM bed WHERE k = 44')))).every((r) => r.out === '1'), 30_000, 500);
  }, 700_000);

  it('down kills every process of every service, removes the namespaces and the folders it made', async () => {
    const pids = (await Promise.all(bed.services.map((s) => bed.pids(s.name)))).flat();
    expect(pids.length).toBeGreaterThan(10); // workers, PostgreSQL, repmgrd, barman's receive-wal, redis
    await bed.down();
    const list = (await execa('ip', ['netns', 'list'])).stdout;
    for (const s of bed.services) expect(list).not.toContain(s.ns);
    await waitFor('every process gone', async () => pids.every((p) => !isAlive(p)), 10_000, 200);
    for (const d of mountPaths) expect(existsSync(d)).toBe(false);
  });
});
