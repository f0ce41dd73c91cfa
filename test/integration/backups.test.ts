// Backups on BullMQ job schedulers: one node, short schedules, REDUNDANCY 1 so retention shows quickly.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { parse, stringify } from 'yaml';
import type { Redis } from 'ioredis';
import { redisConnection } from '../../src/redis.js';
import { barmanQueueName } from '../../src/queues.js';
import { readPidFile } from '../../src/fsutil.js';
import { stopPid } from '../../src/local/processes.js';
import { execa } from 'execa';
import pidtree from 'pidtree';
import { barmanPaths } from '../../src/config/paths.js';
import { catalogue } from '../../src/barman/actions.js';
import { cli, testCluster, waitFor, type TestCluster } from './harness.js';

let tc: TestCluster;
let redis: Redis;
let queue: Queue;

const list = async () => JSON.parse((await cli(['backup', 'list', '--json', '--dir', tc.dir])).stdout) as { id: string; status: string; beginTime: string; endTime: string; sizeBytes: number; walBegin: string; walEnd: string }[];

beforeAll(async () => {
  tc = await testCluster('backups', '127.0.12.11', {
    nodes: 1,
    config: (raw) => {
      raw.barman = { ...raw.barman, backupEveryMs: 20_000, cronEveryMs: 5_000, checkEveryMs: 5_000, retentionPolicy: 'REDUNDANCY 1' };
    },
  });
  const up = await cli(['local', 'up', ...tc.args]);
  expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
  redis = redisConnection(tc.config().redis);
  redis.on('error', () => {});
  queue = new Queue(barmanQueueName(tc.config().cluster), { connection: redis });
}, 480_000);

afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await tc?.destroy();
}, 120_000);

describe('backup schedules', () => {
  it('exist once after two barman worker restarts, and follow a changed schedule', async () => {
    for (const everyMs of [20_000, 15_000]) {
      const file = join(tc.dir, 'pgha.yaml');
      const raw = parse(readFileSync(file, 'utf8'));
      raw.barman.backupEveryMs = everyMs;
      writeFileSync(file, stringify(raw));
      await stopPid(readPidFile(join(tc.dir, 'pids', 'barman-worker.pid')), 'SIGTERM', 30_000);
      const up = await cli(['local', 'up', ...tc.args]);
      expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
      expect(up.stdout).toMatch(/barman-worker started/);
      const schedulers = await waitFor('schedulers upserted', async () => {
        const s = await queue.getJobSchedulers();
        return s.find((x) => x.key === 'barman-backup')?.every === everyMs ? s : undefined;
      }, 20_000);
      expect(schedulers.map((s) => s.key).sort()).toEqual(['barman-backup', 'barman-check', 'barman-cron', 'barman-reconcile']);
    }
  });

  it('a short every schedule takes a DONE backup by itself, and retention (REDUNDANCY 1) removes the obsolete one', async () => {
    const first = (await list()).filter((b) => b.status === 'DONE');
    expect(first.length).toBeGreaterThanOrEqual(1);
    const firstId = first[0].id;
    const after = await waitFor('a scheduled backup and retention', async () => {
      const l = await list();
      return l.some((b) => b.status === 'DONE' && b.id > firstId) && !l.some((b) => b.id === firstId) ? l : undefined;
    }, 150_000, 2000);
    expect(after.filter((b) => b.status === 'DONE').length).toBeGreaterThanOrEqual(1);
    const scheduled = (await queue.getJobs(['completed'], 0, 100)).filter((j) => j.name === 'barman-backup' && j.returnvalue?.backupId);
    expect(scheduled.length).toBeGreaterThanOrEqual(1);
  });

  it('pgha backup takes one now and prints its id and size; backup list --json has the fields', async () => {
    const res = await cli(['backup', '--dir', tc.dir]);
    if (res.exitCode !== 0) expect(res.stdout).toMatch(/still runs/); // a scheduled one was running: try again
    const again = res.exitCode === 0 ? res : await waitFor('a backup', async () => {
      const r = await cli(['backup', '--dir', tc.dir]);
      return r.exitCode === 0 ? r : undefined;
    }, 120_000, 1000);
    const m = /^backup (\d{8}T\d{6}) DONE, ([\d.]+) MiB$/m.exec(again.stdout);
    expect(m).not.toBeNull();
    const b = (await list()).find((x) => x.id === m![1])!;
    expect(b).toMatchObject({ status: 'DONE' });
    expect(b.sizeBytes).toBeGreaterThan(1_000_000);
    expect(Date.parse(b.endTime)).toBeGreaterThanOrEqual(Date.parse(b.beginTime));
    expect(b.walBegin).toMatch(/^[0-9A-F]{24}$/);
    expect(b.walEnd).toMatch(/^[0-9A-F]{24}$/);
  });

  it('a backup asked for while another runs is skipped, not queued twice', async () => {
    const ids = [`twin-a-${Date.now()}`, `twin-b-${Date.now()}`];
    const jobs = await Promise.all(ids.map((id) => queue.add('barman-backup', { cluster: tc.config().cluster }, { jobId: id })));
    const done = await waitFor('both finished', async () => {
      const js = await Promise.all(jobs.map((j) => queue.getJob(j.id!)));
      return js.every((j) => j?.finishedOn) ? js : undefined;
    }, 180_000, 500);
    const ran = done.filter((j) => j!.returnvalue?.backupId);
    const skipped = done.filter((j) => j!.returnvalue?.skipped);
    expect(ran.length).toBeLessThanOrEqual(1);
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(String(skipped[0]!.returnvalue.skipped)).toMatch(/still runs/);
  });

  it('status --json shows the last backup, the next scheduled one, WAL streaming and the last check', async () => {
    const s = await waitFor('a check result', async () => {
      const st = JSON.parse((await cli(['status', '--json', '--dir', tc.dir])).stdout);
      return st.barman.lastCheck ? st : undefined;
    }, 60_000, 1000);
    expect(s.barman.lastBackup).toMatchObject({ id: expect.stringMatching(/^\d{8}T\d{6}$/) });
    expect(s.barman.lastBackup.sizeBytes).toBeGreaterThan(0);
    expect(Date.parse(s.barman.nextBackupAt)).toBeGreaterThan(Date.now() - 20_000);
    expect(s.barman.lastCheck).toMatchObject({ ok: true, failed: [] });
    expect(s.barman.walStreaming).toBe(true);
  });

  it('the barman worker killed -9 during a backup: the retried step takes over, no FAILED attempt is left and barman check passes (failing input 6)', async () => {
    const before = new Set(catalogue(tc.config()).map((b) => b.id));
    const job = await queue.add('barman-backup', { cluster: tc.config().cluster }, { jobId: `killed-mid-backup-${Date.now()}`, attempts: 5, backoff: { type: 'fixed', delay: 2000 } });
    // a scheduled backup may be the one running: the kill lands on whichever backup barman is taking
    // the worker and the barman it runs, frozen the moment a backup is STARTED, then killed: the
    // attempt stays STARTED in barman's catalogue (a backup that finished before the freeze does
    // not count: the next one is taken)
    const worker = readPidFile(join(tc.dir, 'pids', 'barman-worker.pid'))!;
    const signal = (pids: number[], sig: NodeJS.Signals) => {
      for (const pid of pids) {
        try {
          process.kill(pid, sig);
        } catch {
          /* ended meanwhile */
        }
      }
    };
    const started = await waitFor('a backup frozen while STARTED', async () => {
      const b = catalogue(tc.config()).find((x) => !before.has(x.id) && x.status === 'STARTED');
      if (!b) return undefined;
      const tree = [worker, ...(await pidtree(worker))];
      signal(tree, 'SIGSTOP');
      if (catalogue(tc.config()).find((x) => x.id === b.id)?.status === 'STARTED') {
        signal(tree, 'SIGKILL');
        return b;
      }
      before.add(b.id);
      signal(tree, 'SIGCONT');
      return undefined;
    }, 180_000, 50);
    const up = await cli(['local', 'up', ...tc.args]);
    expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
    const done = await waitFor('the backup job finished', async () => {
      const j = await queue.getJob(job.id!);
      const state = await j?.getState();
      return state === 'completed' || state === 'failed' ? j : undefined;
    }, 300_000, 1000);
    expect(await done!.getState()).toBe('completed');
    // the interrupted attempt is gone (deleted by the retry or by the reconcile), none is listed FAILED
    const b = barmanPaths(tc.config());
    // (a scheduled backup running at that moment holds barman's lock: then the reconcile deletes it a little later)
    const check = await waitFor('the interrupted attempt deleted and barman check passing', async () => {
      if (catalogue(tc.config()).some((x) => x.status === 'FAILED' || x.id === started.id)) return undefined;
      const r = await execa('runuser', ['-u', 'barman', '--', 'barman', '-c', b.mainConf, 'check', b.server], { reject: false });
      return r.exitCode === 0 ? r : undefined;
    }, 120_000, 2000);
    expect(check.stdout).toMatch(/failed backups: OK/);
    // the interrupted attempt is not in the catalogue any more
    expect(catalogue(tc.config()).map((x) => x.id)).not.toContain(started.id);
    expect(catalogue(tc.config()).filter((x) => x.status === 'DONE').length).toBeGreaterThanOrEqual(1);
  }, 600_000);
});
