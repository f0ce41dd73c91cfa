// What the integration tests share: a local cluster in a temporary folder, the CLI, clean-up by pid.
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pollUntil } from '../../src/wait.js';
import { stringify } from 'yaml';
import { localConfig } from '../../src/local/cluster.js';
import { LOCAL_DEFAULTS } from '../../src/config/paths.js';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { findNode, nodePaths } from '../../src/config/paths.js';
import { postmasterStatus } from '../../src/postgres/actions.js';
import { markedPids, stopPid } from '../../src/local/processes.js';
import { isAlive, readPidFile } from '../../src/fsutil.js';
import { repmgrdPidOf } from '../../src/repmgr/actions.js';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const cliPath = join(repoRoot, 'bin', 'pgha.js');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
  });
}

/** Run the pgha CLI (the built one, as a user would). */
export function cli(args: string[], opts: { timeoutMs?: number } = {}): ResultPromise<{ reject: false; all: true }> {
  return execa(process.execPath, [cliPath, ...args], { cwd: repoRoot, reject: false, all: true, timeout: opts.timeoutMs ?? 600_000, stdin: 'ignore' }) as any;
}

export interface TestCluster {
  dir: string;
  args: string[];
  config(): ClusterConfig;
  /** The dashboard's URL and its Authorization header (local up made the token). */
  dashboard(): { base: string; headers: { authorization: string }; token: string };
  /** Every pid this cluster's processes have: pid files, postmasters, marked processes. */
  pids(): number[];
  destroy(): Promise<void>;
}

/** A temporary folder for a local cluster on its own loopback range and ports (nothing shared with a dev cluster). */
export async function testCluster(name: string, baseIp: string, opts: { nodes?: number; config?: (raw: any) => void } = {}): Promise<TestCluster> {
  // under /tmp: every parent is traversable by the postgres and barman users
  const dir = mkdtempSync(join('/tmp', `pgha-test-${name}-`));
  const redisPort = await freePort();
  const dashboardPort = await freePort();
  const args = ['--dir', dir, '--base-ip', baseIp, '--redis-port', String(redisPort), '--dashboard-port', String(dashboardPort), '--nodes', String(opts.nodes ?? 3)];
  if (opts.config) {
    // a test's own settings: local up reuses an existing pgha.yaml
    const raw = localConfig({ ...LOCAL_DEFAULTS, dir, baseIp, redisPort, dashboardPort, nodes: opts.nodes ?? 3 });
    opts.config(raw);
    writeFileSync(join(dir, 'pgha.yaml'), stringify(raw), { mode: 0o600 });
  }
  const tc: TestCluster = {
    dir,
    args,
    config: () => loadConfig({ dir }).config,
    dashboard() {
      const config = tc.config();
      const token = readFileSync(config.dashboard.tokenFile ?? join(dir, 'dashboard.token'), 'utf8').trim();
      return { base: `http://${config.dashboard.host}:${config.dashboard.port}`, headers: { authorization: `Bearer ${token}` }, token };
    },
    pids() {
      const out = new Set<number>(markedPids(dir));
      const pidDir = join(dir, 'pids');
      if (existsSync(pidDir)) for (const f of readdirSync(pidDir)) {
        const pid = readPidFile(join(pidDir, f));
        if (pid && isAlive(pid)) out.add(pid);
      }
      const redis = readPidFile(join(dir, 'redis', 'redis.pid'));
      if (redis && isAlive(redis)) out.add(redis);
      if (existsSync(join(dir, 'pgha.yaml'))) {
        const config = tc.config();
        for (const n of config.nodes) {
          const pm = postmasterStatus(nodePaths(config, n).dataDir);
          if (pm) out.add(pm.pid);
          // only a live repmgrd of this node: a pid file left by a kill -9 may name another process now
          const rd = repmgrdPidOf(config, n);
          if (rd) out.add(rd);
        }
      }
      return [...out];
    },
    async destroy() {
      if (existsSync(join(dir, 'pgha.yaml'))) await cli(['local', 'down', '--dir', dir], { timeoutMs: 120_000 });
      // whatever `down` missed (a test failed half-way): by pid, never by name
      for (const pid of tc.pids()) await stopPid(pid, 'SIGKILL', 5000);
      // KEEP_TEST_DIR=1: the folder (logs, data) stays for a post-mortem; the processes never do
      if (process.env.KEEP_TEST_DIR) console.log(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
  return tc;
}

/** Whom `node` streams from now: 'PRIMARY' when it takes writes, the upstream node's name, or null when it streams from nothing. */
export async function streamsFrom(config: ClusterConfig, node: string): Promise<string | null> {
  const c = await sqlTo(config, node);
  try {
    const r = await c.query(`SELECT pg_is_in_recovery() AS rec, (SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming') AS host`);
    if (!r.rows[0].rec) return 'PRIMARY';
    return config.nodes.find((n) => n.host === r.rows[0].host)?.name ?? null;
  } finally {
    await c.end();
  }
}

/** A SQL client to a node as the repmgr role (its password from the cluster's config). */
export async function sqlTo(config: ClusterConfig, node: string): Promise<pg.Client> {
  const n = findNode(config, node);
  const client = new pg.Client({ host: n.host, port: config.postgres.port, user: 'repmgr', password: config.repmgr.password, database: 'repmgr' });
  await client.connect();
  return client;
}

/** pollUntil for tests: a check that throws counts as not yet, and its last error is named when the wait runs out. */
export function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  let last: unknown;
  // a value that is not truthy (0, '') is not yet, as the checks here are written
  const check = () =>
    fn().then(
      (v) => v || undefined,
      (err) => {
        last = err;
        return undefined;
      },
    );
  return pollUntil(what, check, { timeoutMs, everyMs, onTimeout: () => new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`) });
}

/** A private redis-server for tests that need only Redis; stop() kills it by pid. */
export async function startRedisServer(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { reject: false });
  const url = `redis://127.0.0.1:${port}`;
  const { redisConnection } = await import('../../src/redis.js');
  const probe = redisConnection(url);
  probe.on('error', () => {});
  await waitFor('redis-server', async () => (await probe.ping()) === 'PONG', 10_000);
  probe.disconnect();
  return {
    url,
    async stop() {
      await stopPid(child.pid, 'SIGTERM', 5000);
      await child;
    },
  };
}

export { writablePrimaries, splitBrainSampler, insertStream, longestAckGap } from '../../bench/stream.js';

/**
 * Run a nemesis program of bench/chaos (built, under dist/) as a user would, and print its report.
 * The program takes its cluster down itself; when it was cut short (its time limit), the cluster it
 * named in "state in DIR" is taken down and removed here.
 */
export async function runChaosProgram(script: string, args: string[], timeoutMs = 1_200_000): Promise<{ exitCode: number | undefined; all: string }> {
  let stateDir: string | undefined;
  const run = execa(process.execPath, [join(repoRoot, 'dist', 'bench', 'chaos', script), ...args], { reject: false, all: true, timeout: timeoutMs, cwd: repoRoot });
  run.all!.on('data', (d: Buffer) => {
    stateDir ??= /state in (\/tmp\/pgha-[a-z]+-\S+?)[,;\s]/.exec(d.toString())?.[1];
  });
  try {
    const r = await run;
    console.log(r.all);
    return { exitCode: r.exitCode, all: r.all ?? '' };
  } finally {
    if (stateDir && existsSync(join(stateDir, 'pgha.yaml')) && run.exitCode === null) {
      await cli(['local', 'down', '--dir', stateDir], { timeoutMs: 120_000 });
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
}
