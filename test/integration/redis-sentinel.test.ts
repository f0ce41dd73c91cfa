// Redis beyond one instance: the workers find the Redis master through Redis Sentinel, and a flow
// goes on when the master dies and the sentinel promotes its replica. Real redis-server processes
// (master, replica, sentinel) on loopback; pgha's own worker options, processor and flow code.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { resolveConfig } from '../../src/config/load.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { chainFlow } from '../../src/flows/chain.js';
import { enqueueFlow, watchFlows } from '../../src/flows/run.js';
import { redisConnection } from '../../src/redis.js';
import { nodeQueueName } from '../../src/queues.js';
import type { Step } from '../../src/step.js';
import { makeProcessor, workerOptions } from '../../workers/runtime.js';
import { stopPid } from '../../src/local/processes.js';
import { freePort, waitFor } from './harness.js';

const MASTER_NAME = 'pgha-redis';

let dir: string;
const procs: ResultPromise[] = [];
let ports: { master: number; replica: number; sentinel: number };
let config: ClusterConfig;

const redisServer = (args: string[]) => {
  const p = execa('redis-server', args, { reject: false, cwd: dir });
  procs.push(p);
  return p;
};
const role = async (port: number) => {
  const r = await execa('redis-cli', ['-p', String(port), 'role'], { reject: false });
  return r.stdout.split('\n')[0];
};

beforeAll(async () => {
  dir = mkdtempSync('/tmp/pgha-test-sentinel-');
  ports = { master: await freePort(), replica: await freePort(), sentinel: await freePort() };
  redisServer(['--port', String(ports.master), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', 'm.rdb']);
  await waitFor('master', async () => (await role(ports.master)) === 'master', 10_000);
  redisServer(['--port', String(ports.replica), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', 'r.rdb', '--replicaof', '127.0.0.1', String(ports.master)]);
  await waitFor('replica in sync', async () => (await execa('redis-cli', ['-p', String(ports.replica), 'info', 'replication'])).stdout.includes('master_link_status:up'), 15_000, 200);
  // one sentinel, quorum 1: enough to promote the replica when the master is gone for 1 s
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(conf, [
    `port ${ports.sentinel}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${ports.master} 1`,
    `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
    `sentinel failover-timeout ${MASTER_NAME} 10000`,
    '',
  ].join('\n'));
  redisServer([conf, '--sentinel']);
  await waitFor('sentinel knows the master', async () => (await execa('redis-cli', ['-p', String(ports.sentinel), 'sentinel', 'get-master-addr-by-name', MASTER_NAME], { reject: false })).stdout.includes(String(ports.master)), 15_000, 200);
  config = resolveConfig(
    {
      cluster: 'sent',
      mode: 'local',
      redis: { sentinels: [{ host: '127.0.0.1', port: ports.sentinel }], masterName: MASTER_NAME },
      nodes: [{ name: 'n1', host: '127.0.0.1', master: true }, { name: 'n2', host: '127.0.0.2' }],
    },
    {},
  ).config;
}, 60_000);

afterAll(async () => {
  for (const p of procs) if (p.pid) await stopPid(p.pid, 'SIGKILL', 5000);
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis Sentinel', () => {
  it("a flow keeps going when the Redis master dies and the sentinel promotes the replica", async () => {
    const ran: number[] = [];
    const schema = z.object({ cluster: z.string(), node: z.string(), flowId: z.string(), i: z.number() });
    const tick: Step<typeof schema> = {
      name: 'tick',
      schema,
      async run(_ctx, data) {
        ran.push(data.i);
        await new Promise((r) => setTimeout(r, 250));
        return { i: data.i };
      },
    };
    const steps = new Map([['tick', tick]]);
    // two workers, as on two hosts, each on its node's queue, connected through the sentinel
    const options = ['n1', 'n2'].map(() => ({ ...workerOptions(config, 1), lockDuration: 5000, stalledInterval: 1000 }));
    const workers = ['n1', 'n2'].map((n, i) => new Worker(nodeQueueName('sent', n), makeProcessor(config, steps), options[i]));
    for (const w of workers) w.on('error', () => {});
    const connection = redisConnection(config.redis);
    connection.on('error', () => {});
    try {
      const flowId = 'sent-ticks';
      const tree = chainFlow(flowId, Array.from({ length: 24 }, (_, i) => ({ step: 'tick', id: `t${i}`, queueName: nodeQueueName('sent', i % 2 ? 'n2' : 'n1'), data: { cluster: 'sent', node: i % 2 ? 'n2' : 'n1', i } })));
      await enqueueFlow(connection, { flowId, tree }, 'test');
      const watching = watchFlows(connection, [{ flowId, tree }], { timeoutMs: 60_000, pollMs: 200 });
      await waitFor('a few steps done', async () => ran.length >= 6, 30_000, 50);
      // the master dies
      const master = procs[0];
      await stopPid(master.pid!, 'SIGKILL', 5000);
      await waitFor('the replica promoted', async () => (await role(ports.replica)) === 'master', 30_000, 200);
      const result = await watching;
      if (!result.ok) console.log('STATES', JSON.stringify(result.states.map((s) => [s.step, s.jobId.slice(-3), s.state, s.attemptsMade, s.failedReason]), null, 0), ran);
      expect({ ok: result.ok, failed: result.failed }).toEqual({ ok: true, failed: undefined });
      expect(result.states.map((s) => s.returnValue)).toEqual(Array.from({ length: 24 }, (_, i) => ({ i })));
      // every step ran, in order; a step cut by the failover may have run again (steps are idempotent)
      expect([...new Set(ran)]).toEqual(Array.from({ length: 24 }, (_, i) => i));
      const addr = await execa('redis-cli', ['-p', String(ports.sentinel), 'sentinel', 'get-master-addr-by-name', MASTER_NAME]);
      expect(addr.stdout).toContain(String(ports.replica));
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      // BullMQ leaves a connection it was given open
      // ioredis's disconnect() of a client that reconnected through the sentinel leaves its socket
      // open (and reconnecting once the sentinel is gone): close the sockets for good
      for (const c of [...options.map((o) => o.connection as Redis), connection]) {
        c.disconnect();
        (c as any).stream?.destroy();
      }
    }
  }, 180_000);
});
