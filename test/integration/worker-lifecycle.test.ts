// A node worker's own lifecycle, with Redis only (no PostgreSQL needed): it consumes only its node's
// queue, and SIGTERM stops it cleanly, cancelling a step that outlives the grace period.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Queue } from 'bullmq';
import { stringify } from 'yaml';
import type { Redis } from 'ioredis';
import { redisConnection } from '../../src/redis.js';
import { loadConfig } from '../../src/config/load.js';
import { buildFirstStartFlow } from '../../src/flows/first-start.js';
import { enqueueFlow } from '../../src/flows/run.js';
import { stepJobId } from '../../src/flows/chain.js';
import { nodeQueueName } from '../../src/queues.js';
import { stopPid } from '../../src/local/processes.js';
import { cliPath, repoRoot, startRedisServer, waitFor } from './harness.js';

let dir: string;
let redisServer: Awaited<ReturnType<typeof startRedisServer>>;
let redis: Redis;
let configFile: string;
const workers: ResultPromise[] = [];

function startNodeWorker(node: string): ResultPromise {
  const w = execa(process.execPath, [cliPath, 'worker', 'node', '--name', node, '--config', configFile], {
    cwd: repoRoot,
    reject: false,
    all: true,
    env: { PGHA_SHUTDOWN_GRACE_MS: '1500' },
  });
  workers.push(w);
  return w;
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/pgha-test-worker-');
  redisServer = await startRedisServer(dir);
  redis = redisConnection(redisServer.url);
  configFile = join(dir, 'pgha.yaml');
  // node1 (the primary) never starts here, so node2's wait-primary step keeps waiting
  writeFileSync(
    configFile,
    stringify({
      cluster: 'lifecycle',
      mode: 'local',
      redis: { url: redisServer.url },
      postgres: { dataDir: join(dir, 'data'), socketDir: join(dir, 'run') },
      repmgr: { configDir: join(dir, 'repmgr') },
      barman: { backupDir: join(dir, 'barman'), configDir: join(dir, 'barman.d') },
      stateDir: join(dir, 'state'),
      nodes: [
        { name: 'node1', host: '127.0.4.11', master: true },
        { name: 'node2', host: '127.0.4.12' },
      ],
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const w of workers) {
    await stopPid(w.pid, 'SIGKILL', 2000);
    await w;
  }
  redis?.disconnect();
  await redisServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node worker', () => {
  it('consumes only its own node queue, and SIGTERM cancels a step that outlives the grace period', async () => {
    const config = loadConfig({ config: configFile }).config;
    const flow = buildFirstStartFlow(config, 'node2');
    await enqueueFlow(redis, flow, 'first-start');
    // a job on node1's queue that node2's worker must never take
    const q1 = new Queue(nodeQueueName(config.cluster, 'node1'), { connection: redis });
    await q1.add('check-master-flag', { cluster: config.cluster, node: 'node1', flowId: 'other' }, { jobId: 'other-check' });

    const worker = startNodeWorker('node2');
    const q2 = new Queue(nodeQueueName(config.cluster, 'node2'), { connection: redis });
    const waitId = stepJobId(flow.flowId, 'wait-primary');
    await waitFor('wait-primary active', async () => (await (await q2.getJob(waitId))?.getState()) === 'active', 30_000);
    expect(await (await q2.getJob(stepJobId(flow.flowId, 'check-master-flag')))!.getState()).toBe('completed');

    const sent = Date.now();
    process.kill(worker.pid!, 'SIGTERM');
    const res = await worker;
    expect({ code: res.exitCode, out: res.all }).toMatchObject({ code: 0 });
    // it waited for the grace period, then cancelled instead of hanging for the step's 300 s
    expect(Date.now() - sent).toBeGreaterThanOrEqual(1400);
    expect(Date.now() - sent).toBeLessThan(15_000);
    expect(res.all).toMatch(/cancelling the running step/);

    // the cancelled step is not lost: it failed one attempt and waits for a retry
    const job = (await q2.getJob(waitId))!;
    expect(['delayed', 'waiting', 'wait']).toContain(await job.getState());
    expect(job.attemptsMade).toBe(1);
    // and says why: the worker's reason reaches the failed job
    expect(job.failedReason).toBe('cancelled: worker stopped by SIGTERM');
    // node1's job was never touched by node2's worker
    expect(await (await q1.getJob('other-check'))!.getState()).toBe('waiting');
    await q1.close();
    await q2.close();
  });
});
