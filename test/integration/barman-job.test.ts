// runBarmanJob (pgha status, backup list, restore plan): a barman step that finishes at once must
// still hand its return value back. Found by CI: barman-list-backups reads backup.info files and
// ends within milliseconds, before the caller's wait saw it; status then showed no backups.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { Queue, Worker } from 'bullmq';
import { runBarmanJob } from '../../src/flows/jobs.js';
import { barmanQueueName } from '../../src/queues.js';
import { redisConnection } from '../../src/redis.js';
import { localConfig } from '../unit/helpers.js';
import { startRedisServer, waitFor } from './harness.js';

let dir: string;
let redisServer: Awaited<ReturnType<typeof startRedisServer>>;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/pgha-test-barman-job-');
  redisServer = await startRedisServer(dir);
}, 60_000);

afterAll(async () => {
  await redisServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('runBarmanJob', () => {
  it('returns the value of a step that finishes at once, every time (200 calls, 8 at a time)', async () => {
    const config = localConfig({ cluster: 'instant', redis: { url: redisServer.url } });
    const connection = redisConnection(config.redis);
    // a barman worker whose step answers without any delay
    const worker = new Worker(barmanQueueName(config.cluster), async (job) => ({ backups: [{ id: job.id }] }), { connection, concurrency: 4 });
    const queue = new Queue(barmanQueueName(config.cluster), { connection });
    try {
      // a flow's finished step on the same queue, kept (a first start's barman steps, shown on the page):
      // older than any age-based clean-up a finished query job could run over the queue
      await queue.add('barman-first-backup', { cluster: config.cluster }, { jobId: 'kept-step' });
      await waitFor('the kept step finished 11 s ago', async () => {
        const j = await queue.getJob('kept-step');
        return j?.finishedOn !== undefined && Date.now() - j.finishedOn > 11_000;
      }, 30_000, 200);
      // several callers at once, as the dashboard, pgha status and a restore plan may be
      const caller = async () => {
        for (let i = 0; i < 25; i++) {
          const r = await runBarmanJob<{ backups: { id: string }[] }>(config, 'barman-list-backups', 10_000);
          expect(r.backups[0].id).toMatch(/^barman-list-backups-/);
        }
      };
      await Promise.all(Array.from({ length: 8 }, caller));
      // the queries leave nothing behind, and take nothing else with them
      expect((await queue.getJobs(['completed'])).map((j) => j.id)).toEqual(['kept-step']);
    } finally {
      await queue.close();
      await worker.close();
      connection.disconnect();
    }
  });
});
