// docker-compose.yml's own cluster on the multi-host test bed: each compose service runs its command
// with its environment in a network namespace of its own (and a mount namespace for its volumes),
// reaching the others by service name, as containers would. No setting is added for the test but the
// .env's passwords.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NetnsBed } from '../bed/netns.js';
import { readCompose, startOrder, interpolate, type ComposeService } from '../bed/compose.js';
import { cliPath, repoRoot, waitFor } from './harness.js';
import { isAlive } from '../../src/fsutil.js';
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
const svc = (name: string) => compose.services.find((s) => s.name === name)!;
const nodes = ['pg1', 'pg2', 'pg3'];
// socket folders pgha makes on the machine's /var/run/postgresql (not a volume in compose)
const socketDirs = nodes.map((n) => join('/var/run/postgresql', n)).filter((d) => !existsSync(d));
// the machine's folders the volumes' paths need, and whether they were there before
const mountPaths = ['/data', '/var/lib/pgha', '/home/barman'].filter((d) => !existsSync(d));
let bed: NetnsBed;
let dir: string;

/** A command inside a service's namespace with that service's environment (as `docker compose exec`). */
const inService = (service: ComposeService, command: string, args: string[], env: Record<string, string> = {}) =>
  bed.exec(service.name, command, args, { env: { PATH: process.env.PATH!, ...service.environment, ...env }, extendEnv: false, reject: false, timeout: 30_000 });

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

beforeAll(async () => {
  bed = new NetnsBed(compose.services.map((s) => s.name), undefined, compose.subnet);
  dir = mkdtempSync('/tmp/pgha-test-bed-');
  chmodSync(dir, 0o755);
  await bed.up();
  for (const s of startOrder(compose.services)) {
    bed.start(s, dir);
    if (s.kind === 'redis') await waitFor('redis answers', async () => (await inService(s, 'redis-cli', ['ping'])).stdout === 'PONG', 20_000, 200);
  }
}, 120_000);

afterAll(async () => {
  await bed?.down();
  // each service's output, kept for a failed run (test/artifacts is not committed)
  if (dir) for (const s of compose.services) if (existsSync(join(dir, `${s.name}.log`))) cpSync(join(dir, `${s.name}.log`), join(repoRoot, 'test', 'artifacts', 'compose-bed', `${s.name}.log`));
  for (const d of socketDirs) rmSync(d, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
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
    bed.start(svc('pg1'), dir);
    await waitFor('pg1 a standby of the new primary', async () => roles(await status()).pg1 === `standby<-${after.p}`, 180_000, 2000);
    await waitFor('the row on pg1', async () => (await sql('pg1', 'SELECT count(*) FROM bed WHERE k = 43')).out === '1', 30_000, 500);
    expect((await sql('pg1', 'INSERT INTO bed VALUES (2)')).out).toMatch(/read-only transaction/);
  }, 300_000);

  it('down kills every process of every service, removes the namespaces and the folders it made', async () => {
    const pids = (await Promise.all(compose.services.map((s) => bed.pids(s.name)))).flat();
    expect(pids.length).toBeGreaterThan(10); // workers, PostgreSQL, repmgrd, barman's receive-wal, redis
    await bed.down();
    const list = (await execa('ip', ['netns', 'list'])).stdout;
    for (const s of bed.services) expect(list).not.toContain(s.ns);
    await waitFor('every process gone', async () => pids.every((p) => !isAlive(p)), 10_000, 200);
    for (const d of mountPaths) expect(existsSync(d)).toBe(false);
  });
});
