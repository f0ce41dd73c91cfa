// runBarmanJob (pgha status, backup list, restore plan): a barman step that finishes at once must
// still hand its return value back. Found by CI: barman-list-backups reads backup.info files and
// ends within milliseconds, before the caller's wait saw it; status then showed no backups.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { Worker } from 'bullmq';
import { runBarmanJob } from '../../src/flows/jobs.js';
import { barmanQueueName } from '../../src/queues.js';
import { redisConnection } from '../../src/redis.js';
import { localConfig } from '../unit/helpers.js';
import { startRedisServer } from './harness.js';

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
    try {
      // several callers at once, as the dashboard, pgha status and a restore plan may be
      const caller = async () => {
        for (let i = 0; i < 25; i++) {
          const r = await runBarmanJob<{ backups: { id: string }[] }>(config, 'barman-list-backups', 10_000);
          expect(r.backups[0].id).toMatch(/^barman-list-backups-/);
        }
      };
      await Promise.all(Array.from({ length: 8 }, caller));
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });
});
