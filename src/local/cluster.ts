// Local mode: a whole cluster on this machine under one folder, no Docker.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { dashboardToken } from '../auth.js';
import { loadConfig } from '../config/load.js';
import { SEED_PASSWORDS, type ClusterConfig } from '../config/schema.js';
import { LOCAL_DEFAULTS, nodePaths, type LocalOptions } from '../config/paths.js';
import { buildFirstStartFlow, firstStartFlowId } from '../flows/first-start.js';
import { buildRestartFlow } from '../flows/operations.js';
import { enqueueFlow, retryFailedSteps, watchFlows, type StepState } from '../flows/run.js';
import { readFlowRecord } from '../flows/registry.js';
import type { Redis } from 'ioredis';
import { postmasterStatus } from '../postgres/actions.js';
import { describeRedis, redisConnection, redisProblem } from '../redis.js';
import { readClusterView } from '../probe.js';
import { writableNodes } from '../roles/view.js';
import { isAlive, readPidFile } from '../fsutil.js';
import { repmgrdPidOf } from '../repmgr/actions.js';
import { CLI_ENTRY } from '../cli-entry.js';
import { markedPids, runningPid, startDaemon, stopPid } from './processes.js';
import { pollUntil } from '../wait.js';


/** node i (from 0) gets base + i on the last octet: 127.0.0.11, 127.0.0.12, … (pure). */
export function nodeAddress(baseIp: string, i: number): string {
  const parts = baseIp.split('.').map(Number);
  if (parts.length !== 4 || parts[0] !== 127 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`--base-ip must be a loopback IPv4 address like 127.0.0.11 (got ${baseIp})`);
  }
  if (parts[3] + i > 254) throw new Error(`--base-ip ${baseIp} leaves no room for ${i + 1} nodes`);
  return [parts[0], parts[1], parts[2], parts[3] + i].join('.');
}

/** The pgha.yaml of a local cluster under `dir` (pure). */
export function localConfig(o: LocalOptions & { dir: string }): Record<string, unknown> {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 9) throw new Error(`--nodes must be a whole number from 1 to 9 (got ${o.nodes})`);
  return {
    cluster: o.cluster,
    mode: 'local',
    redis: { url: `redis://127.0.0.1:${o.redisPort}` },
    postgres: { dataDir: join(o.dir, 'data'), socketDir: join(o.dir, 'run'), allowedNetworks: ['127.0.0.0/8'] },
    repmgr: { configDir: join(o.dir, 'repmgr') },
    barman: { host: '127.0.0.1', backupDir: join(o.dir, 'barman'), configDir: join(o.dir, 'barman.d') },
    stateDir: join(o.dir, 'state'),
    dashboard: { host: '127.0.0.1', port: o.dashboardPort, tokenFile: join(o.dir, 'dashboard.token') },
    nodes: Array.from({ length: o.nodes }, (_, i) => ({ name: `node${i + 1}`, host: nodeAddress(o.baseIp, i), master: i === 0, priority: 100 - i })),
  };
}

export interface LocalLayout {
  dir: string;
  configFile: string;
  redisDir: string;
  redisPid: string;
  pidDir: string;
  logDir: string;
}

export function layout(dir: string): LocalLayout {
  const abs = resolve(dir);
  return {
    dir: abs,
    configFile: join(abs, 'pgha.yaml'),
    redisDir: join(abs, 'redis'),
    redisPid: join(abs, 'redis', 'redis.pid'),
    pidDir: join(abs, 'pids'),
    logDir: join(abs, 'logs'),
  };
}

/** PostgreSQL runs as postgres and barman as barman: every folder above the state folder must let them through. */
function checkTraversable(dir: string) {
  let cur = dir;
  while (cur !== '/') {
    const parent = dirname(cur);
    const mode = statSync(parent).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `${parent} is mode ${(mode & 0o777).toString(8)}: the postgres and barman OS users cannot reach ${dir}; ` +
          `use --dir under /var/tmp or /tmp, or chmod o+x ${parent}`,
      );
    }
    cur = parent;
  }
}

async function startRedis(l: LocalLayout, config: ClusterConfig, say: (s: string) => void) {
  if (config.redis.url === undefined) throw new Error('local mode runs its own redis-server: redis.url, not redis.sentinels');
  const port = new URL(config.redis.url).port || '6379';
  if (!runningPid(l.redisPid)) {
    mkdirSync(l.redisDir, { recursive: true });
    await execa('redis-server', [
      '--port', port, '--bind', '127.0.0.1', '--dir', l.redisDir, '--appendonly', 'yes', '--save', '',
      '--daemonize', 'yes', '--pidfile', l.redisPid, '--logfile', join(l.redisDir, 'redis.log'),
    ], { env: { [`PGHA_LOCAL_DIR`]: l.dir } });
    say(`redis-server started on 127.0.0.1:${port} (AOF in ${l.redisDir})`);
  }
  // one bounded try a turn (a BullMQ-style connection would queue its ping while Redis is not up);
  // a long append-only file can take a while to load (Redis answers LOADING meanwhile)
  await pollUntil('redis-server answers', async () => (await redisProblem(config.redis, 1000)) === null, {
    timeoutMs: 60_000,
    everyMs: 100,
    onTimeout: () => new Error(`redis-server did not answer on ${describeRedis(config.redis)} within 60 s; see ${join(l.redisDir, 'redis.log')}`),
  });
}

/**
 * Node flags of the long-running processes: a 1 MiB young generation keeps an idle worker's resident
 * memory near 80 MiB (V8's default let the barman worker grow past 110 MiB after a few barman runs);
 * they allocate little, so the extra scavenges cost nothing measurable. The images set the same.
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'];

/** Node workers, the barman worker and the dashboard: start each one that is not running. */
/** Returns the names of the processes it started (the others already ran). */
export function startLocalProcesses(l: LocalLayout, config: ClusterConfig, say: (s: string) => void, only?: string[]): string[] {
  const startedNow: string[] = [];
  const node = process.execPath;
  const specs = [
    ...config.nodes.map((n) => ({ name: `${n.name}-worker`, args: ['worker', 'node', '--name', n.name] })),
    { name: 'barman-worker', args: ['worker', 'barman'] },
    { name: 'control-worker', args: ['worker', 'control'] },
    { name: 'dashboard', args: ['dashboard'] },
  ].filter((s) => !only || only.includes(s.name));
  for (const s of specs) {
    const { pid, started } = startDaemon({
      name: s.name,
      command: node,
      args: [...DAEMON_NODE_FLAGS, CLI_ENTRY, ...s.args, '--config', l.configFile],
      pidFile: join(l.pidDir, `${s.name}.pid`),
      logFile: join(l.logDir, `${s.name}.log`),
      markerDir: l.dir,
    });
    if (started) {
      say(`${s.name} started (pid ${pid})`);
      startedNow.push(s.name);
    }
  }
  return startedNow;
}

/** The flow a node worker enqueued when it booted after `since` (written to its boot-flow file), or '' for none. */
export async function bootFlowId(config: ClusterConfig, node: string, since: number, timeoutMs = 30_000): Promise<string> {
  const file = nodePaths(config, node).bootFlowFile;
  return pollUntil(
    `the node worker of ${node} booted`,
    () => {
      try {
        return statSync(file).mtimeMs >= since - 5 ? readFileSync(file, 'utf8').trim() : undefined;
      } catch {
        return undefined; // not written yet
      }
    },
    { timeoutMs, everyMs: 100, onTimeout: () => new Error(`the node worker of ${node} did not boot within ${timeoutMs / 1000} s`) },
  );
}

/** The flow tree behind a boot flow id, to follow it: its recorded scenario says which (a restart, else the first start). */
export async function bootFlow(connection: Redis, config: ClusterConfig, node: string, flowId: string) {
  const record = await readFlowRecord(connection, config.cluster, flowId);
  // no record (trimmed with the oldest): the first start has its one fixed id, anything else restarted
  const restart = record ? record.scenario === 'restart' : flowId !== firstStartFlowId(config.cluster, node);
  return { scenario: restart ? 'restart' : 'first-start', flow: restart ? buildRestartFlow(config, node, flowId) : buildFirstStartFlow(config, node) };
}

export function loadLocal(dir: string): { l: LocalLayout; config: ClusterConfig; warnings: string[] } {
  const l = layout(dir);
  if (!existsSync(l.configFile)) throw new Error(`no local cluster in ${l.dir} (${l.configFile} is missing); run: pgha local up --dir ${dir}`);
  const { config, warnings } = loadConfig({ dir: l.dir });
  return { l, config, warnings };
}

/** The local dashboard's token: made on the first start (random, mode 0600), then kept. */
function ensureDashboardToken(config: ClusterConfig, say: (s: string) => void): string | null {
  const file = config.dashboard.tokenFile;
  if (!file) return config.dashboard.token ?? null;
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    say(`generated the dashboard token in ${file} (mode 0600)`);
  }
  return dashboardToken(config);
}

export async function localUp(opts: Partial<LocalOptions> & { timeoutMs?: number }, say: (s: string) => void = console.log): Promise<number> {
  const o = { ...LOCAL_DEFAULTS, ...opts };
  const l = layout(o.dir);
  mkdirSync(l.dir, { recursive: true });
  chmodSync(l.dir, 0o755);
  checkTraversable(l.dir);
  if (!existsSync(l.configFile)) {
    writeFileSync(l.configFile, `# local pgha cluster, written by pgha local up\n${stringify(localConfig({ ...o, dir: l.dir }))}`, { mode: 0o600 });
    say(`wrote ${l.configFile}`);
  } else {
    say(`reusing ${l.configFile}`);
  }
  const { config, warnings } = loadConfig({ dir: l.dir });
  for (const w of warnings) say(`warning: ${w}`);
  const token = ensureDashboardToken(config, say);
  await startRedis(l, config, say);
  const bootedSince = Date.now();
  const started = startLocalProcesses(l, config, say);
  say(`dashboard: http://${config.dashboard.host}:${config.dashboard.port}/ (Bull Board at /queues), user: any name, password: the token`);
  if (token) say(`dashboard token: ${token}`);

  const connection = redisConnection(config.redis);
  const t0 = Date.now();
  try {
    const booted = config.nodes.map((n) => ({ scenario: 'first-start', flow: buildFirstStartFlow(config, n.name) }));
    // a node worker started on a node that ran before boots it through the restart decision: wait for
    // that too. A new node's worker enqueues the same first-start flow as here: no need to wait for it.
    for (const n of config.nodes) {
      if (!started.includes(`${n.name}-worker`) || !existsSync(nodePaths(config, n).startedMarker)) continue;
      const id = await bootFlowId(config, n.name, bootedSince);
      if (!id) continue;
      const b = await bootFlow(connection, config, n.name, id);
      if (b.scenario === 'restart') booted.push(b);
    }
    const flows = booted.map((b) => b.flow);
    for (const b of booted) await enqueueFlow(connection, b.flow, b.scenario);
    // `up` again after fixing a cause: failed steps run again and their flows go on
    for (const r of await retryFailedSteps(connection, flows)) say(`retrying failed step ${r}`);
    say(`first-start flows: ${flows.map((f) => f.flowId).join(', ')}`);
    const result = await watchFlows(connection, flows, {
      timeoutMs: opts.timeoutMs,
      onStep: (s: StepState) => say(`  ✓ ${s.queueName.split('.').slice(1).join('.').padEnd(12)} ${s.step.padEnd(22)} ${s.durationMs !== undefined ? `${(s.durationMs / 1000).toFixed(1)} s` : ''}`),
    });
    if (!result.ok) {
      const f = result.failed!;
      say(`FAILED: step ${f.step} of flow ${f.flowId} (queue ${f.queueName}, job ${f.jobId}, ${f.attemptsMade} attempts): ${f.failedReason}`);
      say(`see the step's log at http://${config.dashboard.host}:${config.dashboard.port}/queues and ${l.logDir}`);
      return 1;
    }
    say(`cluster ${config.cluster} is up: ${config.nodes.length} nodes, all flows completed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    say(await connectLine(config, l.configFile));
    say(`stop it with: npx pgha local down --dir ${o.dir}`);
    return 0;
  } finally {
    connection.disconnect();
  }
}

/** How to reach the primary with psql: its address now (read live), the user, and where its password is (never the password). */
async function connectLine(config: ClusterConfig, configFile: string): Promise<string> {
  const primary = writableNodes(await readClusterView(config))[0]?.name ?? config.nodes.find((n) => n.master)?.name ?? config.nodes[0].name;
  const host = config.nodes.find((n) => n.name === primary)!.host;
  return `connect: psql "host=${host} port=${config.postgres.port} user=postgres dbname=postgres" (${primary}, the primary; password: ${rootPasswordHint(config, configFile)})`;
}

/**
 * Where the postgres user's password comes from, never the password (pure): the config file's
 * postgres.rootPassword, or, when the file leaves it out, the seed's default that README's
 * Configuration section names (a user looking in the file would find no such key).
 */
export function rootPasswordHint(config: ClusterConfig, configFile: string): string {
  return config.postgres.rootPassword === SEED_PASSWORDS['postgres.rootPassword']
    ? `the seed's default postgres.rootPassword (README, Configuration); set your own as postgres.rootPassword in ${configFile}`
    : `postgres.rootPassword in ${configFile}`;
}

/** Stop everything the local cluster started, by pid: workers, dashboard, repmgrd, PostgreSQL, barman's daemons, redis. */
export async function localDown(dir: string, say: (s: string) => void = console.log): Promise<number> {
  const l = layout(dir);
  if (!existsSync(l.configFile)) {
    say(`no local cluster in ${l.dir}`);
    return 0;
  }
  const { config } = loadConfig({ dir: l.dir });
  // workers first, so nothing restarts what is being stopped
  if (existsSync(l.pidDir)) {
    for (const f of readdirSync(l.pidDir)) {
      const pid = readPidFile(join(l.pidDir, f));
      if (isAlive(pid)) {
        await stopPid(pid, 'SIGTERM', 10_000);
        say(`stopped ${f.replace(/\.pid$/, '')} (pid ${pid})`);
      }
    }
  }
  for (const n of config.nodes) {
    const repmgrd = repmgrdPidOf(config, n);
    if (repmgrd) {
      await stopPid(repmgrd);
      say(`stopped repmgrd of ${n.name} (pid ${repmgrd})`);
    }
  }
  await Promise.all(
    config.nodes.map(async (n) => {
      const pm = postmasterStatus(nodePaths(config, n).dataDir);
      if (pm) {
        // SIGINT is PostgreSQL's fast shutdown
        await stopPid(pm.pid, 'SIGINT', 60_000);
        say(`stopped PostgreSQL of ${n.name} (pid ${pm.pid})`);
      }
    }),
  );
  // barman cron leaves receive-wal (and its pg_receivewal) behind; they carry our marker
  for (const pid of markedPids(l.dir)) {
    if (pid === readPidFile(l.redisPid)) continue;
    await stopPid(pid, 'SIGTERM', 10_000);
    say(`stopped pid ${pid} (started by this cluster)`);
  }
  const redis = readPidFile(l.redisPid);
  if (isAlive(redis)) {
    await stopPid(redis, 'SIGTERM', 10_000);
    say(`stopped redis-server (pid ${redis})`);
  }
  const left = markedPids(l.dir);
  if (left.length) {
    say(`processes still running: ${left.join(', ')}`);
    return 1;
  }
  say(`local cluster in ${l.dir} stopped`);
  return 0;
}
