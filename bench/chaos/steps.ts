// Crash-safety of every step (`npm run chaos:steps -- [--seed S] [--rounds N | --every-step] [--flows a,b]`):
// a flow runs, and at a random point inside one of its steps the worker that runs that step is killed
// with SIGKILL (and, for half of the kills, every command it was running: pg_ctl, pg_basebackup,
// pg_rewind, repmgr, barman…), then started again after a random pause; BullMQ hands the step, whose
// lock lapsed, to the new worker. The flow must complete, the cluster must heal (one primary, every
// other node streaming from it, automatic failover not left paused), nothing acknowledged may be lost
// (inserts and bank transfers run throughout, in quorum mode), backups left in barman's catalogue must
// be DONE, and at the end every node holds the same data and barman streams from the primary.
//
// Flows: first-start (the run's own bootstrap, and with --every-step one fresh cluster per step),
// restart (planned, any node), rejoin (the old primary's boot after a kill -9: rewind or re-clone),
// switchover, after-promotion (a standby's failover detector promoted it: standbys follow, barman switches, backup),
// backup, restore (to the latest point, so every acknowledged write must survive it; re-clones).
// "A random point inside the step": the step's job is seen active, then the kill waits a uniformly
// random fraction of that step's duration as measured earlier in the run (a step that ended before
// the kill point is reported as missed, and --every-step tries it again).
// Exit 0 when every check held, 1 otherwise.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { execa } from 'execa';
import pidtree from 'pidtree';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { catalogue } from '../../src/barman/actions.js';
import { serverConfPrimary } from '../../src/barman/render.js';
import { barmanPaths } from '../../src/config/paths.js';
import { readFileSync } from 'node:fs';
import { firstStartFlowId, buildFirstStartFlow } from '../../src/flows/first-start.js';
import { flowRecord, readFlowRecord, recentFlowRecords, type FlowRecord } from '../../src/flows/registry.js';
import { enqueueFlow, flowState, readStepStates, type StepState } from '../../src/flows/run.js';
import { bootFlowId, layout, localConfig, startLocalProcesses } from '../../src/local/cluster.js';
import { LOCAL_DEFAULTS } from '../../src/config/paths.js';
import { localKill } from '../../src/local/hosts.js';
import { isAlive, readPidFile } from '../../src/fsutil.js';
import { redisConnection } from '../../src/redis.js';
import { planScenario } from '../../src/scenarios.js';
import { readFailoverState, readNodes, within } from '../../src/status.js';
import { writablePrimaries } from '../stream.js';
import { repoRoot } from '../lib.js';
import { divergence, lostAcks, prng, type Ack } from './check.js';
import { log, nemesisCommand, query, sleep, until, wholeCluster, writer } from './workload.js';
import { oneOf, wholeNumber } from '../../cli/args.js';

export const STEP_FLOWS = ['first-start', 'restart', 'rejoin', 'switchover', 'after-promotion', 'backup', 'restore'] as const;
export type StepFlow = (typeof STEP_FLOWS)[number];

interface Options {
  seed: number;
  rounds: number;
  everyStep: boolean;
  flows: StepFlow[];
  baseIp: string;
  healSeconds: number;
}

function parseArgs(argv: string[]): Options {
  return nemesisCommand('chaos:steps', 'a worker killed at each point of each step of the flows, then the checks')
    .option('--rounds <n>', 'how many crash points', wholeNumber('--rounds'), 8)
    .option('--every-step', 'every point of every step instead of --rounds picked by the seed', false)
    .option('--flows <list>', `comma list of: ${STEP_FLOWS.join(', ')}`, oneOf('--flows', STEP_FLOWS, true), [...STEP_FLOWS])
    .option('--base-ip <ip>', 'address of node1', '127.0.42.11')
    .parse(argv)
    .opts<Options>();
}

/** The local process that consumes a queue: `<node>-worker`, `barman-worker` or `control-worker`. */
export function workerOfQueue(queueName: string): string {
  if (queueName.endsWith('.barman')) return 'barman-worker';
  if (queueName.endsWith('.control')) return 'control-worker';
  const node = queueName.split('.node.')[1];
  if (!node) throw new Error(`not a pgha queue: ${queueName}`);
  return `${node}-worker`;
}

/** One kill: which flow and step, where in it, what was killed; or (point null) why none happened. */
export interface Kill {
  flow: StepFlow;
  flowId: string;
  step: string;
  /** boundary: right after the step's N-th log line (between two effects); time: N ms after the step was seen active. */
  mode: 'boundary' | 'time';
  /** N; null: the step ended before the kill point (missed). */
  point: number | null;
  /** Processes killed: the worker, then (time mode, half of the kills) the commands it was running. */
  pids: number[];
}

interface Cluster {
  dir: string;
  config: ClusterConfig;
  connection: Redis;
}

const pgha = (args: string[], timeoutMs = 600_000) => execa(process.execPath, [join(repoRoot, 'bin', 'pgha.js'), ...args], { reject: false, all: true, cwd: repoRoot, timeout: timeoutMs });

/** A local cluster's pgha.yaml in a fresh folder (quorum mode, its own addresses and ports). */
function newClusterDir(baseIp: string, port: number): string {
  const dir = mkdtempSync('/tmp/pgha-steps-');
  const raw = localConfig({ ...LOCAL_DEFAULTS, dir, baseIp, redisPort: port, dashboardPort: port + 1000, nodes: 3 }) as any;
  raw.replication = { synchronous: 'quorum' };
  writeFileSync(join(dir, 'pgha.yaml'), stringify(raw), { mode: 0o600 });
  return dir;
}

/** Per step, the longest duration (ms) seen so far in this run, and the lines its latest attempt logged. */
const durations = new Map<string, number>();
const logLines = new Map<string, number>();
const DEFAULT_LOG_LINES = 12;

async function learn(connection: Redis, states: StepState[]) {
  for (const s of states) {
    if (s.state !== 'completed') continue;
    if (s.durationMs !== undefined) durations.set(s.step, Math.max(durations.get(s.step) ?? 0, s.durationMs));
    const queue = new Queue(s.queueName, { connection });
    try {
      const { logs } = await queue.getJobLogs(s.jobId, 0, -1);
      const from = logs.map((l) => l.startsWith(`step ${s.step} attempt`)).lastIndexOf(true);
      // the latest attempt's count: a step logs more on one path than another (a switch vs no change)
      if (from >= 0) logLines.set(s.step, logs.length - from);
    } finally {
      await queue.close();
    }
  }
}

/** The crash-point file of a cluster's workers (workers/runtime.ts crashPoint); set before they start. */
const crashFile = (dir: string) => join(dir, 'crash-point.json');
function startWorkers(dir: string, config: ClusterConfig, only: string[]) {
  process.env.PGHA_CRASH_POINT_FILE = crashFile(dir);
  startLocalProcesses(layout(dir), config, () => {}, only);
}

/**
 * Kill the worker of `record.steps[index]` at a random point inside that step, then start it again.
 * Two kinds of point: between two of the step's effects (the worker kills itself right after a random
 * log line of the step, drawn from the lines the step logged earlier in the run), and, for steps that
 * last over 2 s, a random moment of the step's measured duration, half of those with every command the
 * worker runs. Returns the kill and the boot flow the restarted worker started ('' for none).
 */
async function killInside(c: Cluster, flow: StepFlow, record: FlowRecord, index: number, rnd: () => number, armed?: { line: number }): Promise<{ kill: Kill; boot: string }> {
  const s = record.steps[index];
  const queue = new Queue(s.queueName, { connection: c.connection });
  const ms = durations.get(s.step);
  // armed: the crash point was written before the flow existed (a flow the cluster starts by itself)
  const mode = armed || !(ms !== undefined && ms > 2000 && rnd() < 0.5) ? 'boundary' : 'time';
  const kill: Kill = { flow, flowId: record.flowId, step: s.step, mode, point: null, pids: [] };
  const name = workerOfQueue(s.queueName);
  const l = layout(c.dir);
  const workerPid = () => readPidFile(join(l.pidDir, `${name}.pid`));
  const state = async () => (await (await queue.getJob(s.jobId))?.getState()) ?? 'missing';
  try {
    if (mode === 'boundary') {
      const line = armed?.line ?? 1 + Math.floor(rnd() * (logLines.get(s.step) ?? DEFAULT_LOG_LINES));
      if (!armed) writeFileSync(crashFile(c.dir), JSON.stringify({ jobId: s.jobId, logLine: line }));
      const pid = await until(`${name} runs`, async () => workerPid(), 60_000, 50);
      const end = await until(`${s.step} of ${record.flowId} ends or its worker dies`, async () => {
        if (!isAlive(pid)) return 'killed';
        const st = await state();
        return st === 'completed' || st === 'failed' ? st : undefined;
      }, 600_000, 50);
      rmSync(crashFile(c.dir), { force: true });
      if (end !== 'killed') return { kill, boot: '' };
      kill.point = line;
      kill.pids.push(pid);
    } else {
      const seen = await until(`${s.step} of ${record.flowId} starts`, async () => {
        const st = await state();
        return st === 'active' || st === 'completed' || st === 'failed' ? st : undefined;
      }, 600_000, 20);
      if (seen !== 'active') return { kill, boot: '' };
      const seenAt = Date.now();
      await sleep(rnd() * ms!);
      if ((await state()) !== 'active') return { kill, boot: '' };
      const pid = workerPid();
      if (!pid || !isAlive(pid)) throw new Error(`${name} is not running (no live pid in ${l.pidDir})`);
      // the commands are collected before the worker dies (after, they belong to init)
      const children = rnd() < 0.5 ? await pidtree(pid).catch(() => [] as number[]) : [];
      for (const p of [pid, ...children]) {
        try {
          process.kill(p, 'SIGKILL');
          kill.pids.push(p);
        } catch {
          /* ended meanwhile */
        }
      }
      kill.point = Date.now() - seenAt;
      await until(`${name} (pid ${pid}) dies`, async () => !isAlive(pid), 10_000, 20);
    }
  } finally {
    await queue.close();
  }
  // a crashed worker comes back after a while (a supervisor, a container restart policy)
  await sleep(300 + rnd() * 2700);
  const since = Date.now();
  startWorkers(c.dir, c.config, [name]);
  const node = c.config.nodes.find((n) => `${n.name}-worker` === name)?.name;
  return { kill, boot: node ? await bootFlowId(c.config, node, since, 60_000) : '' };
}

const describeKill = (k: Kill) =>
  k.point === null
    ? `step ${k.step} ended before the kill point (missed)`
    : k.mode === 'boundary'
      ? `worker killed itself after log line ${k.point} of ${k.step}`
      : `killed the worker${k.pids.length > 1 ? ` and ${k.pids.length - 1} commands` : ''} ${k.point} ms into ${k.step}`;

/** Wait until every step of the flow completed; a failed step or the deadline throws, naming the step and why. */
async function flowDone(c: Cluster, flowId: string, timeoutMs = 600_000): Promise<StepState[]> {
  const record = await until(`flow ${flowId} recorded`, () => readFlowRecord(c.connection, c.config.cluster, flowId).then((r) => r ?? undefined), 30_000);
  const queues = new Map<string, Queue>();
  const queue = (name: string) => queues.get(name) ?? queues.set(name, new Queue(name, { connection: c.connection })).get(name)!;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const states = await readStepStates(queue, flowId, record.steps);
      const state = flowState(states);
      if (state === 'completed') return states;
      const bad = states.find((s) => s.state === 'failed' || s.state === 'missing');
      if (bad) throw new Error(`flow ${flowId} failed at ${bad.step}: ${bad.failedReason ?? bad.state}`);
      if (Date.now() > deadline) {
        const at = states.find((s) => s.state !== 'completed')!;
        throw new Error(`flow ${flowId} not done after ${timeoutMs / 1000} s: ${at.step} is ${at.state}${at.failedReason ? ` (last error: ${at.failedReason})` : ''}`);
      }
      await sleep(300);
    }
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
  }
}

/** The live state of a recorded flow's steps. */
async function stepStates(connection: Redis, record: FlowRecord): Promise<StepState[]> {
  const queues = new Map<string, Queue>();
  try {
    return await readStepStates((n) => queues.get(n) ?? queues.set(n, new Queue(n, { connection })).get(n)!, record.flowId, record.steps);
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
  }
}

/** A flow just started by this runner or by the cluster itself (found by its record). */
async function newRecord(c: Cluster, scenario: string, since: number, timeoutMs: number): Promise<FlowRecord> {
  return until(`a ${scenario} flow`, async () => (await recentFlowRecords(c.connection, c.config.cluster, 20)).find((r) => r.scenario === scenario && Date.parse(r.createdAt) >= since - 5), timeoutMs, 50);
}

/** A planned flow (CLI/API path), enqueued. */
async function planned(c: Cluster, request: Parameters<typeof planScenario>[1]): Promise<FlowRecord> {
  const p = await planScenario(c.config, request);
  if (!p.ok) throw new Error(`${JSON.stringify(request)} refused: ${p.error}`);
  await enqueueFlow(c.connection, p, p.scenario);
  return flowRecord(p.flowId, p.scenario, p.tree);
}

/** The first lost acknowledgements: key, the node that acknowledged it, when. */
const describeLost = (lost: Ack[]) => lost.slice(0, 5).map((a) => `key ${a.key} acknowledged by ${a.node} at ${new Date(a.at).toISOString()} (${a.client})`).join('; ');

interface RoundResult {
  kill: Kill;
  problems: string[];
}

/**
 * Bring up a local cluster (its first-start flows) with a kill inside one step of them, as `npm run up`
 * would run them. `pick` chooses the node and step; returns the kill and any problem.
 */
async function upWithKill(dir: string, rnd: () => number, pick: (flows: FlowRecord[]) => [number, number]): Promise<{ c: Cluster; result: RoundResult }> {
  const config = loadConfig({ dir }).config;
  // the workers local up starts read their crash point here
  process.env.PGHA_CRASH_POINT_FILE = crashFile(dir);
  const up = pgha(['local', 'up', '--dir', dir], 900_000);
  const records = config.nodes.map((n) => {
    const f = buildFirstStartFlow(config, n.name);
    return flowRecord(firstStartFlowId(config.cluster, n.name), 'first-start', f.tree);
  });
  const [fi, si] = pick(records);
  // Redis is started by local up: wait for it before watching
  const connection = await until('local up starts Redis', async () => {
    const conn = redisConnection(config.redis);
    conn.on('error', () => {});
    // a ping to a Redis not yet up waits for it (workers' connections retry forever): bounded here
    const pong = await within(conn.ping(), 1000, () => null).catch(() => null);
    if (pong === 'PONG') return conn;
    conn.disconnect();
    return undefined;
  }, 120_000, 200).catch(async (e) => {
    const r = await up;
    throw new Error(`${(e as Error).message}; local up: exit ${r.exitCode}\n${r.all}`);
  });
  const c: Cluster = { dir, config, connection };
  const problems: string[] = [];
  try {
    const { kill, boot } = await killInside(c, 'first-start', records[fi], si, rnd);
    const r = await up;
    if (r.exitCode !== 0) problems.push(`local up after the kill: exit ${r.exitCode}: ${(r.all ?? '').split('\n').filter((x) => /FAILED|error/i.test(x)).slice(-3).join(' | ')}`);
    if (boot) await flowDone(c, boot).catch((e) => problems.push(`${(e as Error).message}`));
    for (const rec of records) await learn(connection, await stepStates(connection, rec));
    return { c, result: { kill, problems } };
  } catch (err) {
    // the caller never gets this connection: a Redis client left open would keep the run from ending
    connection.disconnect();
    throw err;
  }
}

/** What every round checks once its flow is done: healed, failover not left paused. */
async function healed(c: Cluster, healSeconds: number): Promise<string[]> {
  const problems: string[] = [];
  const primary = await until('one primary, the others streaming from it', () => wholeCluster(c.config), healSeconds * 1000, 500).catch(() => undefined);
  if (!primary) problems.push(`not healed within ${healSeconds} s: writable ${(await writablePrimaries(c.config)).join(', ') || 'none'}`);
  const q = new Map<string, Queue>();
  try {
    const paused = await until('automatic failover on', async () => {
      const f = await readFailoverState(c.config, c.connection, (n) => q.get(n) ?? q.set(n, new Queue(n, { connection: c.connection })).get(n)!, await readNodes(c.config), 5000);
      return f.paused ? undefined : 'on';
    }, 60_000, 1000).catch(() => undefined);
    if (!paused) problems.push('automatic failover (repmgrd) left paused');
  } finally {
    await Promise.all([...q.values()].map((x) => x.close()));
  }
  return problems;
}

/** barman's catalogue holds only DONE backups (an interrupted attempt is taken over or deleted), within 120 s. */
async function catalogueClean(config: ClusterConfig): Promise<string[]> {
  const ok = await until('only DONE backups', async () => catalogue(config).every((b) => b.status === 'DONE') || undefined, 120_000, 1000).catch(() => false);
  return ok ? [] : [`barman's catalogue: ${catalogue(config).filter((b) => b.status !== 'DONE').map((b) => `${b.id} ${b.status}`).join(', ')}`];
}

async function main() {
  const o = parseArgs(process.argv);
  const rnd = prng(o.seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const port = 6500 + (o.seed % 200);
  const dir = newClusterDir(o.baseIp, port);
  log(`seed ${o.seed}, ${o.everyStep ? 'every step of' : `${o.rounds} rounds over`} ${o.flows.join(', ')}; state in ${dir}`);
  const kills: Kill[] = [];
  const problems: string[] = [];
  const extraDirs: string[] = [];
  let failed = false;
  let c: Cluster | undefined;
  try {
    // the bootstrap itself is a first-start round
    const first = await upWithKill(dir, rnd, (fs) => {
      const fi = Math.floor(rnd() * fs.length);
      return [fi, Math.floor(rnd() * fs[fi].steps.length)];
    });
    c = first.c;
    const cl = c;
    kills.push(first.result.kill);
    log(`  first-start ${first.result.kill.flowId}: ${describeKill(first.result.kill)}`);
    problems.push(...first.result.problems.map((p) => `first-start ${first.result.kill.step}: ${p}`));
    if (problems.length) throw new Error(problems.join('; '));
    problems.push(...(await healed(cl, o.healSeconds)).map((p) => `after first start: ${p}`));
    const primary0 = (await writablePrimaries(cl.config))[0];
    await query(cl.config, primary0, 'CREATE TABLE chaos_acked (k bigint PRIMARY KEY, client text)');
    await query(cl.config, primary0, 'CREATE TABLE chaos_bank (id int PRIMARY KEY, balance bigint)');
    await query(cl.config, primary0, 'INSERT INTO chaos_bank SELECT g, 1000 FROM generate_series(1, 10) g');
    const acked: Ack[] = [];
    let key = 0;
    const bank = { transfers: 0 };
    const startWriters = () => [writer(cl.config, 'follower', null, () => ++key, acked), writer(cl.config, 'bank', null, () => ++key, acked, bank)];
    let writers = startWriters();
    let ackedBeforeRestore = 0;

    // the rounds: (flow, step index or undefined for a random one)
    const plan: [StepFlow, number | undefined][] = [];
    const flows = o.flows.filter((f) => f !== 'first-start' || o.everyStep);
    // each flow once per turn, in a seeded order, so a short run covers every flow
    const order = [...flows].map((f) => [rnd(), f] as const).sort((a, b) => a[0] - b[0]).map(([, f]) => f);
    if (!o.everyStep) for (let i = 0; i < o.rounds; i++) plan.push([order[i % order.length], undefined]);

    const roundsOf = async (flow: StepFlow, want: number | undefined): Promise<RoundResult & { steps: number }> => {
      const nodes = cl.config.nodes.map((n) => n.name);
      const primary = await until('a primary', async () => (await writablePrimaries(cl.config))[0], 60_000);
      const standbys = nodes.filter((n) => n !== primary);
      const since = Date.now();
      const local: string[] = [];
      let record: FlowRecord;
      let after: (() => Promise<void>) | undefined;
      let armed: { line: number } | undefined;
      let armedIndex = -1;
      switch (flow) {
        case 'restart':
          record = await planned(cl, { scenario: 'restart', node: pick(nodes) });
          break;
        case 'switchover':
          record = await planned(cl, { scenario: 'switchover', node: pick(standbys) });
          break;
        case 'backup':
          record = await planned(cl, { scenario: 'backup' });
          break;
        case 'restore':
          // to the latest point: nothing acknowledged before it may be missing after it
          for (const w of writers) await w.stop();
          ackedBeforeRestore = acked.length;
          record = await planned(cl, { scenario: 'restore', params: { confirm: true, backup: 'latest' } });
          after = async () => {
            writers = startWriters();
          };
          break;
        case 'after-promotion': {
          // a standby's failover detector starts this flow within a second of the kill (its steps after
          // the promotion: the standbys follow, barman switches, a backup): its crash point is armed
          // before the kill, by pattern
          const kinds = ['barman-switch-primary', 'ensure-follows', 'barman-backup'];
          const kind = kinds[Math.min(want ?? Math.floor(rnd() * kinds.length), kinds.length - 1)];
          armed = { line: 1 + Math.floor(rnd() * (logLines.get(kind) ?? DEFAULT_LOG_LINES)) };
          writeFileSync(crashFile(cl.dir), JSON.stringify({ jobId: `${cl.config.cluster}-failover-*-from-*-${kind === 'ensure-follows' ? 'ensure-follows-*' : kind}`, logLine: armed.line }));
          await localKill(cl.dir, primary, () => {});
          record = await newRecord(cl, 'failover', since, 120_000);
          armedIndex = record.steps.findIndex((x) => x.step === kind);
          after = async () => {
            const r = await pgha(['local', 'start', primary, '--dir', cl.dir]);
            if (r.exitCode !== 0) local.push(`local start ${primary} (the old primary): exit ${r.exitCode}`);
          };
          break;
        }
        case 'rejoin': {
          await localKill(cl.dir, primary, () => {});
          const promoted = await newRecord(cl, 'failover', since, 120_000);
          await flowDone(cl, promoted.flowId);
          const t = Date.now();
          startWorkers(cl.dir, cl.config, [`${primary}-worker`]);
          const boot = await bootFlowId(cl.config, primary, t, 60_000);
          record = await until('the boot flow recorded', () => readFlowRecord(cl.connection, cl.config.cluster, boot).then((r) => r ?? undefined), 30_000);
          break;
        }
        default:
          throw new Error(`no round for ${flow}`);
      }
      const index = armedIndex >= 0 ? armedIndex : (want ?? Math.floor(rnd() * record.steps.length));
      const { kill, boot } = await killInside(cl, flow, record, index, rnd, armed);
      log(`  ${flow} ${record.flowId}, ${workerOfQueue(record.steps[index].queueName)}: ${describeKill(kill)}`);
      const out: string[] = [];
      const states = await flowDone(cl, record.flowId).catch((e) => {
        out.push((e as Error).message);
        return [] as StepState[];
      });
      await learn(cl.connection, states);
      if (boot) await flowDone(cl, boot).catch((e) => out.push(`the restarted worker's boot flow: ${(e as Error).message}`));
      await after?.();
      out.push(...local);
      out.push(...(await healed(cl, o.healSeconds)));
      if (flow === 'backup' || flow === 'after-promotion' || flow === 'restore') out.push(...(await catalogueClean(cl.config)));
      if (flow === 'restore') {
        const p = (await writablePrimaries(cl.config))[0];
        const present = new Set((await query<{ k: string }>(cl.config, p, 'SELECT k FROM chaos_acked')).map((r) => Number(r.k)));
        // what was acknowledged before it (the writers run again by now)
        const lost = lostAcks(acked.slice(0, ackedBeforeRestore), present);
        if (lost.length) out.push(`${lost.length} acknowledged inserts missing after a restore to the latest point: ${describeLost(lost)}`);
      }
      return { kill, problems: out, steps: record.steps.length };
    };

    const runRound = async (flow: StepFlow, want: number | undefined) => {
      log(`round: ${flow}${want === undefined ? '' : ` step ${want + 1}`}`);
      const r = await roundsOf(flow, want);
      kills.push(r.kill);
      for (const p of r.problems) {
        problems.push(`${flow}, kill in ${r.kill.step}: ${p}`);
        log(`  PROBLEM: ${p}`);
      }
      return r;
    };

    if (o.everyStep) {
      for (const flow of flows) {
        if (flow === 'first-start') continue;
        // every step once: a missed kill (step ended first) is tried once more, with what was learnt
        for (let i = 0, n = 1; i < n; i++) {
          let r = await runRound(flow, i);
          n = r.steps;
          if (r.kill.point === null) r = await runRound(flow, i);
          if (problems.length) break;
        }
        if (problems.length) break;
      }
    } else {
      for (const [flow, want] of plan) {
        await runRound(flow, want);
        if (problems.length) break;
      }
    }
    for (const w of writers) await w.stop();

    // ---- the end: nothing lost, bank, same data, barman on the primary --------------------------
    const primary = await until('a whole cluster for the final checks', () => wholeCluster(cl.config), o.healSeconds * 1000, 500).catch(() => undefined);
    if (!primary) problems.push('the cluster did not heal for the final checks');
    else {
      const present = new Set((await query<{ k: string }>(cl.config, primary, 'SELECT k FROM chaos_acked')).map((r) => Number(r.k)));
      const lost = lostAcks(acked, present);
      log(`acknowledged inserts: ${acked.length}, lost: ${lost.length}; bank transfers ${bank.transfers}`);
      if (lost.length) problems.push(`${lost.length} acknowledged inserts lost: ${describeLost(lost)}`);
      const total = Number((await query<{ t: string }>(cl.config, primary, 'SELECT sum(balance) AS t FROM chaos_bank'))[0].t);
      if (total !== 10_000) problems.push(`bank total ${total}, expected 10000`);
      const lsn = (await query<{ l: string }>(cl.config, primary, 'SELECT pg_current_wal_lsn()::text AS l'))[0].l;
      const sums: Record<string, Record<string, string | null>> = {};
      for (const n of cl.config.nodes) {
        await until(`${n.name} replays up to ${lsn}`, async () => n.name === primary || (await query<{ ok: boolean }>(cl.config, n.name, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS ok`))[0].ok, 60_000).catch(() => undefined);
        sums[n.name] = {};
        for (const t of ['chaos_acked', 'chaos_bank']) sums[n.name][t] = await query<{ s: string }>(cl.config, n.name, `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS s FROM ${t} t`).then((r) => r[0].s, () => null);
      }
      const d = divergence(sums);
      if (d) problems.push(`nodes differ: ${d}`);
      const pointsAt = () => serverConfPrimary(cl.config, readFileSync(barmanPaths(cl.config).serverConf, 'utf8'));
      if (!(await until(`barman streams from ${primary}`, async () => pointsAt() === primary, 150_000, 1000).then(() => true, () => false))) problems.push(`barman streams from ${pointsAt() ?? 'no node'}, not from the primary ${primary}`);
    }

    // first start, every step: one fresh cluster per step, on addresses of its own
    if (o.everyStep && o.flows.includes('first-start') && !problems.length) {
      const records = cl.config.nodes.map((n) => ({ node: n.name, steps: buildFirstStartFlow(cl.config, n.name).tree }));
      const targets: [number, number][] = [];
      records.forEach((r, fi) => {
        const steps = flowRecord('x', 'first-start', r.steps).steps.length;
        for (let si = 0; si < steps; si++) targets.push([fi, si]);
      });
      const [a, b, c2] = o.baseIp.split('.');
      for (const [fi, si] of targets) {
        // addresses and ports of their own, away from the main run and the CI test (127.0.43.x)
        const d = newClusterDir(`${a}.${b}.${(Number(c2) + 50) % 250}.11`, port + 100);
        extraDirs.push(d);
        log(`round: first-start, flow of node${fi + 1}, step ${si + 1}`);
        try {
          const { c: fc, result } = await upWithKill(d, rnd, () => [fi, si]);
          kills.push(result.kill);
          const k = result.kill;
          log(`  first-start: ${describeKill(k)}`);
          const ps = [...result.problems, ...(await healed(fc, o.healSeconds)), ...(await catalogueClean(fc.config))];
          fc.connection.disconnect();
          for (const p of ps) {
            problems.push(`first-start, kill in ${k.step}: ${p}`);
            log(`  PROBLEM: ${p}`);
          }
        } finally {
          if (!problems.length) {
            await pgha(['local', 'down', '--dir', d], 120_000);
            rmSync(d, { recursive: true, force: true });
            extraDirs.pop();
          }
        }
        if (problems.length) break;
      }
    }
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    c?.connection.disconnect();
    console.log('\n| flow | step | killed between effects | killed mid-command | missed |\n|---|---|---|---|---|');
    const rows = new Map<string, { boundary: number; time: number; missed: number }>();
    for (const k of kills) {
      const r = rows.get(`${k.flow} | ${k.step}`) ?? { boundary: 0, time: 0, missed: 0 };
      if (k.point === null) r.missed++;
      else r[k.mode]++;
      rows.set(`${k.flow} | ${k.step}`, r);
    }
    for (const [k, r] of [...rows].sort()) console.log(`| ${k} | ${r.boundary} | ${r.time} | ${r.missed} |`);
    console.log(`\n${kills.filter((k) => k.point !== null).length} kills inside a step (${kills.filter((k) => k.point === null).length} missed), seed ${o.seed}`);
    if (problems.length) {
      failed = true;
      console.log(`FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}\nstate kept in ${[dir, ...extraDirs].join(', ')} (logs/, state/nodes/*/postgresql.log)`);
    } else console.log('every check held: each flow completed after its worker was killed inside a step, the cluster healed, nothing acknowledged lost, nodes identical, barman on the primary');
    await pgha(['local', 'down', '--dir', dir], 120_000);
    for (const d of extraDirs) await pgha(['local', 'down', '--dir', d], 120_000);
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }
  // whatever a failed round left open (a client retrying a stopped Redis) must not keep the run alive
  // (once the report has reached a piped stdout)
  process.stdout.write('', () => process.exit(failed ? 1 : 0));
}

if (process.argv[1]?.endsWith('steps.js')) await main();
