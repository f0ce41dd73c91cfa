// Control-plane overhead: what BullMQ flows and pgha's worker runtime add around the real commands.
// 1. Hop: a flow of 20 no-op steps across 3 queues; the latency from one step's end to the next
//    step's start. 2. Throughput: 200 simulated nodes (a queue and a worker each, no-op steps), each
//    running a 10-step flow at once: steps per second and Redis memory used.
// pgha: the flows built by chainFlow, enqueued by enqueueFlow (recorded), run by the workers' real
// processor (zod parse, job log, progress). Baseline, same run, alternating: the same trees on bare
// BullMQ workers whose processor does nothing else.
import { mkdtempSync, rmSync } from 'node:fs';
import { sleep } from '../src/wait.js';
import { execa } from 'execa';
import { FlowProducer, Worker, type Job } from 'bullmq';
import { z } from 'zod';
import { resolveConfig } from '../src/config/load.js';
import type { ClusterConfig } from '../src/config/schema.js';
import { chainFlow } from '../src/flows/chain.js';
import { enqueueFlow } from '../src/flows/run.js';
import { redisConnection } from '../src/redis.js';
import { nodeQueueName } from '../src/queues.js';
import type { Step } from '../src/step.js';
import { makeProcessor } from '../workers/runtime.js';
import { median, type Figure } from './lib.js';

type Stamps = Map<string, { start: number; end: number }>;

/** A step that does nothing but note when it ran. */
function noopStep(stamps: Stamps) {
  const schema = z.object({ cluster: z.string(), node: z.string(), flowId: z.string(), i: z.number() });
  const step: Step<typeof schema> = {
    name: 'noop',
    schema,
    async run(_ctx, data) {
      const start = performance.now();
      stamps.set(`${data.flowId}#${data.i}`, { start, end: performance.now() });
    },
  };
  return step;
}

function bareProcessor(stamps: Stamps) {
  return async (job: Job) => {
    const start = performance.now();
    stamps.set(`${job.data.flowId}#${job.data.i}`, { start, end: performance.now() });
  };
}

async function startRedis(port: number): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync('/tmp/pgha-bench-redis-');
  const child = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'], { reject: false });
  const url = `redis://127.0.0.1:${port}`;
  const probe = redisConnection(url);
  probe.on('error', () => {});
  for (let i = 0; i < 100; i++) {
    try {
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  probe.disconnect();
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await child;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A config of `nodes` simulated nodes (only names and queues matter here). */
function simulatedConfig(cluster: string, nodes: number, redisUrl: string): ClusterConfig {
  return resolveConfig(
    {
      cluster,
      mode: 'local',
      redis: { url: redisUrl },
      nodes: Array.from({ length: nodes }, (_, i) => ({ name: `n${i + 1}`, host: `10.${Math.floor(i / 250)}.${i % 250}.1`, master: i === 0 })),
    },
    {},
  ).config;
}

interface Run {
  /** Latencies from a step's end to the next one's start, ms. */
  hopsMs: number[];
  wallMs: number;
  steps: number;
  redisBytes: number;
}

/** Run `flows` flows of `length` no-op steps; step i of flow f runs on queue queueOf(f, i). */
async function runFlows(o: {
  mode: 'pgha' | 'bare';
  redisUrl: string;
  cluster: string;
  queues: number;
  flows: number;
  length: number;
  queueOf: (flow: number, step: number) => number;
}): Promise<Run> {
  const config = simulatedConfig(o.cluster, o.queues, o.redisUrl);
  const stamps: Stamps = new Map();
  const queueName = (q: number) => nodeQueueName(o.cluster, `n${q + 1}`);
  const processor = o.mode === 'pgha' ? makeProcessor(config, new Map([['noop', noopStep(stamps)]])) : bareProcessor(stamps);
  const admin = redisConnection(o.redisUrl);
  const workerConnection = redisConnection(o.redisUrl);
  const workers = Array.from({ length: o.queues }, (_, q) => new Worker(queueName(q), processor, { connection: workerConnection, concurrency: 1 }));
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const memBefore = await usedMemory(admin);
  const trees = Array.from({ length: o.flows }, (_, f) => {
    const flowId = `${o.cluster}-f${f}`;
    return {
      flowId,
      tree: chainFlow(
        flowId,
        Array.from({ length: o.length }, (_, i) => ({ step: 'noop', id: `s${i}`, queueName: queueName(o.queueOf(f, i)), data: { cluster: o.cluster, node: `n${o.queueOf(f, i) + 1}`, i } })),
      ),
    };
  });
  const expected = o.flows * o.length;
  const t0 = performance.now();
  if (o.mode === 'pgha') await Promise.all(trees.map((t) => enqueueFlow(admin, t, 'bench')));
  else {
    const producer = new FlowProducer({ connection: admin });
    await Promise.all(trees.map((t) => producer.add(t.tree)));
    await producer.close();
  }
  while (stamps.size < expected) await sleep(2);
  const wallMs = performance.now() - t0;
  // the last step's completion is written just after its processor returns
  await sleep(300);
  const redisBytes = (await usedMemory(admin)) - memBefore;
  const hopsMs: number[] = [];
  for (const t of trees) for (let i = 1; i < o.length; i++) hopsMs.push(stamps.get(`${t.flowId}#${i}`)!.start - stamps.get(`${t.flowId}#${i - 1}`)!.end);
  await Promise.all(workers.map((w) => w.close()));
  await admin.flushall();
  admin.disconnect();
  workerConnection.disconnect();
  return { hopsMs, wallMs, steps: expected, redisBytes };
}

async function usedMemory(redis: ReturnType<typeof redisConnection>): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];

export async function benchControlPlane(trials: number, log: (s: string) => void): Promise<Figure[]> {
  const redis = await startRedis(6397);
  const hop = { pgha: [] as number[], bare: [] as number[], pghaP99: [] as number[], bareP99: [] as number[] };
  const rate = { pgha: [] as number[], bare: [] as number[], pghaMem: [] as number[], bareMem: [] as number[] };
  try {
    for (let t = 0; t < trials; t++) {
      for (const mode of ['bare', 'pgha'] as const) {
        // 20 dependent steps across 3 queues, 10 such flows one after the other
        const hops: number[] = [];
        for (let k = 0; k < 10; k++) {
          const r = await runFlows({ mode, redisUrl: redis.url, cluster: `hop${t}${mode}${k}`, queues: 3, flows: 1, length: 20, queueOf: (_f, i) => i % 3 });
          hops.push(...r.hopsMs);
        }
        hop[mode].push(median(hops));
        hop[mode === 'pgha' ? 'pghaP99' : 'bareP99'].push(p99(hops));
        const r = await runFlows({ mode, redisUrl: redis.url, cluster: `tp${t}${mode}`, queues: 200, flows: 200, length: 10, queueOf: (f) => f });
        rate[mode].push(r.steps / (r.wallMs / 1000));
        rate[mode === 'pgha' ? 'pghaMem' : 'bareMem'].push(r.redisBytes / 2 ** 20);
        log(`control plane trial ${t + 1}/${trials} ${mode}: hop median ${median(hops).toFixed(2)} ms, p99 ${p99(hops).toFixed(2)} ms; 200 nodes × 10 steps: ${(r.steps / (r.wallMs / 1000)).toFixed(0)} steps/s, Redis +${(r.redisBytes / 2 ** 20).toFixed(1)} MiB`);
      }
    }
  } finally {
    await redis.stop();
  }
  return [
    { name: 'hop between dependent steps, median', unit: 'ms', pgha: hop.pgha, baseline: hop.bare, baselineName: 'bare BullMQ workers', target: '≤ 5 ms' },
    { name: 'hop between dependent steps, p99', unit: 'ms', pgha: hop.pghaP99, baseline: hop.bareP99, baselineName: 'bare BullMQ workers' },
    { name: '200 nodes × 10-step flows, throughput', unit: 'steps/s', pgha: rate.pgha, baseline: rate.bare, baselineName: 'bare BullMQ workers', target: '≥ 500 steps/s' },
    { name: '200 nodes × 10-step flows, Redis memory', unit: 'MiB', pgha: rate.pghaMem, baseline: rate.bareMem, baselineName: 'bare BullMQ workers' },
  ];
}
