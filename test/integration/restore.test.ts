// Destructive: restore from barman, full (latest, immediate) and point in time, on a 2-node cluster.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildRestoreFlow } from '../../src/flows/operations.js';
import { startFlow, watchFlows } from '../../src/flows/run.js';
import { redisConnection } from '../../src/redis.js';
import { nodePaths } from '../../src/config/paths.js';
import { postmasterStatus } from '../../src/postgres/actions.js';
import { cli, sqlTo, testCluster, waitFor, type TestCluster } from './harness.js';
import { switchWalArchived } from '../../src/barman/actions.js';
import { Runner } from '../../src/exec/runner.js';
import { secretsOf } from '../../src/config/load.js';

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

/** `node`'s pending-restart list as `pgha status --json` shows it. */
async function pendingRestartIn(node: string) {
  const status = JSON.parse((await cli(['status', '--json', '--dir', tc.dir])).stdout) as { nodes: { name: string; pendingRestart?: string[] }[] };
  return status.nodes.find((n) => n.name === node)?.pendingRestart;
}

/** After a restore: node1 is the primary, node2 streams from it, a backup newer than `since` is DONE, nothing is left aside. */
async function expectHealthyAfter(since: string) {
  expect(await sql('node1', 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: false }]);
  const host = cfg().nodes[0].host;
  await waitFor('node2 streams from node1', async () => {
    const r = await sql('node2', `SELECT pg_is_in_recovery() AS r, (SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming') AS h`);
    return r[0].r === true && r[0].h === host;
  }, 30_000);
  expect((await backups()).some((b) => b.status === 'DONE' && b.id > since)).toBe(true);
  expect(readdirSync(cfg().postgres.dataDir).filter((d) => d.includes('.aside-'))).toEqual([]);
  // the reset recovery settings are no reason to restart the new primary (a user was told to)
  expect(await pendingRestartIn('node1')).toEqual([]);
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
    expect(late.stdout).toMatch(/is after the last transaction recovery from that backup can replay; valid range/);
    expect(cfg().nodes.map((n) => postmasterStatus(nodePaths(cfg(), n).dataDir)?.pid)).toEqual(pids);
  });

  it('failing input 5: a target time after the last commit barman holds (but before its newest archived WAL) is refused before anything stops', async () => {
    const pids = cfg().nodes.map((n) => postmasterStatus(nodePaths(cfg(), n).dataDir)!.pid);
    // the last transaction: an xid assigned and committed (no row changed); its commit record is the newest in the WAL
    const [{ t: lastCommit }] = await sql('node1', 'SELECT pg_current_xact_id()::text AS x, clock_timestamp() AS t');
    // a second after it: the restore's own WAL switch archives a segment later than that, which the
    // archive-time check accepted and PostgreSQL then could not reach
    const target = new Date((lastCommit as Date).getTime() + 1000).toISOString();
    const r = await cli(['restore', '--yes', '--target-time', target, '--dir', tc.dir]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toContain(`restore refused, nothing was stopped: --target-time ${target} is after the last transaction recovery from that backup can replay`);
    expect(r.stdout).toMatch(/valid range for backup \d{8}T\d{6}: \S+ to \S+ \(its last transaction in barman's WAL, timeline 1\)/);
    expect(cfg().nodes.map((n) => postmasterStatus(nodePaths(cfg(), n).dataDir)?.pid)).toEqual(pids);
  });

  it('a restore that fails in PostgreSQL (a target its WAL cannot reach, past the pre-check) goes back: old data in place, every node restarted', async () => {
    const before = await sql('node1', 'SELECT count(*)::int AS n FROM rows');
    const pids = cfg().nodes.map((n) => postmasterStatus(nodePaths(cfg(), n).dataDir)!.pid);
    const latest = (await backups()).filter((b) => b.status === 'DONE').pop()!.id;
    // the flow as the pre-check would never plan it: a time no WAL reaches
    const flowId = `pgha-restore-unreachable-${Date.now()}`;
    const flow = buildRestoreFlow(cfg(), { target: 'node1', backupId: latest, recoveryTarget: { kind: 'time', time: '2099-01-01T00:00:00Z' }, flowId, pauseVia: 'node1' });
    await startFlow(cfg().redis, flow, 'restore');
    const connection = redisConnection(cfg().redis);
    try {
      const result = await watchFlows(connection, [flow], { timeoutMs: 300_000 });
      expect(result.ok).toBe(false);
      expect(result.failed!.step).toBe('install-restored');
      // fails as soon as PostgreSQL exits, quoting it, and says what was done about it
      expect(result.failed!.failedReason).toMatch(/exited during recovery: .*recovery ended before configured recovery target was reached/);
      expect(result.failed!.failedReason).toContain('The data directory from before the restore is back in place');
      expect(result.failed!.failedReason).not.toContain('local start');
    } finally {
      connection.disconnect();
    }
    // every node restarted by itself, in its former role, with the data it had
    const host = cfg().nodes[0].host;
    await waitFor('node1 primary again and node2 streaming from it', async () => {
      const one = await sql('node1', 'SELECT pg_is_in_recovery() AS r');
      const two = await sql('node2', `SELECT (SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming') AS h`);
      return one[0].r === false && two[0].h === host;
    }, 180_000);
    expect(cfg().nodes.map((n) => postmasterStatus(nodePaths(cfg(), n).dataDir)?.pid).every((pid, i) => pid !== undefined && pid !== pids[i])).toBe(true);
    expect(await sql('node1', 'SELECT count(*)::int AS n FROM rows')).toEqual(before);
    // the failed attempt's folder is kept for a look, and named so
    const failed = readdirSync(cfg().postgres.dataDir).filter((d) => d.includes(`.failed-restore-${flowId}`));
    expect(failed).toEqual([`node1.failed-restore-${flowId}`]);
    for (const d of failed) rmSync(join(cfg().postgres.dataDir, d), { recursive: true, force: true });
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
    await waitFor('rows on node2', async () => (await sql('node2', 'SELECT count(*)::int AS n FROM rows'))[0].n === 2000, 10_000);
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
    // the target is passed in milliseconds (toISOString): it must lie after batch 2's commit and
    // before batch 3's by more than that, so the server's clock is awaited past each
    const clockPast = (what: string, t: Date) => waitFor(what, async () => ((await sql('node1', `SELECT clock_timestamp() > $1::timestamptz + interval '5 ms' AS ok`, [t]))[0].ok ? true : undefined), 10_000, 5);
    const [{ c2 }] = await sql('node1', 'SELECT clock_timestamp() AS c2');
    await clockPast('the clock past batch 2', c2 as Date);
    const [{ t }] = await sql('node1', 'SELECT now() AS t');
    await clockPast('the clock past the target', t as Date);
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

  it("the pending-restart list keeps what a restart would change: a recovery target the primary's files still set, and a standby's", async () => {
    try {
      await sql('node1', "ALTER SYSTEM SET recovery_target_lsn = '0/1'");
      await sql('node1', 'SELECT pg_reload_conf()');
      await sql('node2', "ALTER SYSTEM SET recovery_target_timeline = 'current'");
      await sql('node2', 'SELECT pg_reload_conf()');
      await waitFor('both listed', async () => (await pendingRestartIn('node1'))?.includes('recovery_target_lsn') && (await pendingRestartIn('node2'))?.includes('recovery_target_timeline'), 10_000, 200);
    } finally {
      await sql('node1', 'ALTER SYSTEM RESET recovery_target_lsn');
      await sql('node1', 'SELECT pg_reload_conf()');
      await sql('node2', 'ALTER SYSTEM RESET recovery_target_timeline');
      await sql('node2', 'SELECT pg_reload_conf()');
    }
  });

  it('barman archives a switched WAL file from an idle primary well inside 15 s (its next running-xacts record): pgha writes the WAL record that opens the next file', async () => {
    // after the restores above nothing writes on node1: once barman's switch closes the current WAL file, no .partial follows it
    const lines: string[] = [];
    const ctx = { config: cfg(), run: new Runner(secretsOf(cfg())), log: (l: string) => void lines.push(l) };
    const t0 = Date.now();
    // 10 s: without the WAL record barman would wait out the whole timeout on an idle primary and fail
    expect(await switchWalArchived(ctx, cfg().nodes[0], 10)).toBe(true);
    const took = Date.now() - t0;
    expect(lines.join('\n')).toMatch(/wrote \d+ WAL record\(s\) on node1/);
    expect(took).toBeLessThan(10_000);
  });
});
