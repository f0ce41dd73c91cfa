// Destructive: restore from barman, full (latest, immediate) and point in time, on a 2-node cluster.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { nodePaths } from '../../src/config/paths.js';
import { postmasterStatus } from '../../src/postgres/actions.js';
import { cli, sqlTo, testCluster, waitFor, type TestCluster } from './harness.js';

let tc: TestCluster;
const cfg = () => tc.config();

async function sql(node: string, text: string, params: unknown[] = []) {
  const c = await sqlTo(cfg(), node);
  try {
    return (await c.query(text, params)).rows;
  } finally {
    await c.end();
  }
}

const backups = async () => JSON.parse((await cli(['backup', 'list', '--json', '--dir', tc.dir])).stdout) as { id: string; status: string }[];

/** After a restore: node1 is the primary, node2 streams from it, a backup newer than `since` is DONE, nothing is left aside. */
async function expectHealthyAfter(since: string) {
  expect(await sql('node1', 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: false }]);
  const host = cfg().nodes[0].host;
  expect(await waitFor('node2 streams from node1', async () => {
    const r = await sql('node2', `SELECT pg_is_in_recovery() AS r, (SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming') AS h`);
    return r[0].r === true && r[0].h === host;
  }, 30_000)).toBe(true);
  expect((await backups()).some((b) => b.status === 'DONE' && b.id > since)).toBe(true);
  expect(readdirSync(cfg().postgres.dataDir).filter((d) => d.includes('.aside-'))).toEqual([]);
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);

beforeAll(async () => {
  tc = await testCluster('restore', '127.0.15.11', { nodes: 2 });
  const up = await cli(['local', 'up', ...tc.args]);
  expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
  await sql('node1', 'CREATE TABLE rows (i int)');
}, 300_000);

afterAll(async () => {
  await tc?.destroy();
}, 120_000);

describe('restore', () => {
  it('refuses without --yes, and a target time outside the backup-to-last-WAL range with the valid range; nothing is stopped', async () => {
    const pids = cfg().nodes.map((n) => postmasterStatus(nodePaths(cfg(), n).dataDir)!.pid);
    const noYes = await cli(['restore', '--dir', tc.dir]);
    expect(noYes.exitCode).toBe(2);
    expect(noYes.stdout).toMatch(/run it again with --yes/);
    const early = await cli(['restore', '--yes', '--target-time', '2020-01-01T00:00:00Z', '--dir', tc.dir]);
    expect(early.exitCode).toBe(2);
    expect(early.stdout).toMatch(/restore refused, nothing was stopped: --target-time 2020-01-01T00:00:00Z is before the end of backup \d{8}T\d{6}; valid range for backup \d{8}T\d{6}: \S+ to \S+/);
    const late = await cli(['restore', '--yes', '--target-time', '2099-01-01T00:00:00Z', '--dir', tc.dir]);
    expect(late.exitCode).toBe(2);
    expect(late.stdout).toMatch(/is after the last archived WAL; valid range/);
    expect(cfg().nodes.map((n) => postmasterStatus(nodePaths(cfg(), n).dataDir)?.pid)).toEqual(pids);
  });

  let backupOf1000 = '';

  it('latest, no target: every WAL barman holds is replayed (2,000 rows)', async () => {
    await sql('node1', 'INSERT INTO rows SELECT generate_series(1, 1000)');
    const b = await cli(['backup', '--dir', tc.dir]);
    expect(b.exitCode).toBe(0);
    backupOf1000 = /^backup (\d{8}T\d{6}) DONE/m.exec(b.stdout)![1];
    await sql('node1', 'INSERT INTO rows SELECT generate_series(1001, 2000)');
    const since = stamp();
    const r = await cli(['restore', '--yes', '--dir', tc.dir]);
    expect({ code: r.exitCode, out: r.all }).toMatchObject({ code: 0 });
    expect(await sql('node1', 'SELECT count(*)::int AS n FROM rows')).toEqual([{ n: 2000 }]);
    await expectHealthyAfter(since);
    expect(await waitFor('rows on node2', async () => (await sql('node2', 'SELECT count(*)::int AS n FROM rows'))[0].n === 2000, 10_000)).toBe(true);
  });

  it('--target immediate stops at the backup\'s consistent point (1,000 rows)', async () => {
    const since = stamp();
    const r = await cli(['restore', '--yes', '--target', 'immediate', '--backup', backupOf1000, '--dir', tc.dir]);
    expect({ code: r.exitCode, out: r.all }).toMatchObject({ code: 0 });
    expect(await sql('node1', 'SELECT count(*)::int AS n FROM rows')).toEqual([{ n: 1000 }]);
    await expectHealthyAfter(since);
    // the standby must not have kept the recovery target (it would promote itself)
    expect(await sql('node2', 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: true }]);
  });

  it('point in time: restored to a time between batch 2 and 3 it has exactly batches 1 and 2', async () => {
    await sql('node1', 'CREATE TABLE batches (batch int)');
    await sql('node1', 'INSERT INTO batches SELECT 1 FROM generate_series(1, 100)');
    await sql('node1', 'INSERT INTO batches SELECT 2 FROM generate_series(1, 100)');
    await new Promise((r) => setTimeout(r, 1000));
    const [{ t }] = await sql('node1', 'SELECT now() AS t');
    await new Promise((r) => setTimeout(r, 1000));
    await sql('node1', 'INSERT INTO batches SELECT 3 FROM generate_series(1, 100)');
    const since = stamp();
    const r = await cli(['restore', '--yes', '--target-time', (t as Date).toISOString(), '--dir', tc.dir]);
    expect({ code: r.exitCode, out: r.all }).toMatchObject({ code: 0 });
    expect(await sql('node1', 'SELECT batch, count(*)::int AS n FROM batches GROUP BY 1 ORDER BY 1')).toEqual([
      { batch: 1, n: 100 },
      { batch: 2, n: 100 },
    ]);
    await expectHealthyAfter(since);
  });
});
