// A local cluster for a benchmark: its own folder, addresses and ports, config overrides, teardown.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import type { ClusterConfig } from '../src/config/schema.js';
import { localConfig } from '../src/local/cluster.js';
import { LOCAL_DEFAULTS } from '../src/config/paths.js';
import { repoRoot } from './lib.js';

export interface BenchCluster {
  dir: string;
  config: ClusterConfig;
  pgha(args: string[]): Promise<{ exitCode?: number; all?: string }>;
  sql(node: string, text: string): Promise<pg.QueryResult>;
  destroy(): Promise<void>;
}

const pghaIn = (dir: string, args: string[]) => execa(process.execPath, [join(repoRoot, 'bin', 'pgha.js'), ...args, '--dir', dir], { reject: false, all: true, cwd: repoRoot });

/** `patch`: top-level sections of pgha.yaml replaced (e.g. { replication: { synchronous: 'off' } }). */
export async function benchCluster(name: string, baseIp: string, ports: { redis: number; dashboard: number }, repmgr: Record<string, unknown> = {}, nodes = 3, patch: Record<string, unknown> = {}): Promise<BenchCluster> {
  const dir = mkdtempSync(`/tmp/pgha-bench-${name}-`);
  const raw = localConfig({ ...LOCAL_DEFAULTS, dir, baseIp, redisPort: ports.redis, dashboardPort: ports.dashboard, nodes }) as any;
  raw.repmgr = { ...raw.repmgr, ...repmgr };
  Object.assign(raw, patch);
  writeFileSync(join(dir, 'pgha.yaml'), stringify(raw), { mode: 0o600 });
  const up = await pghaIn(dir, ['local', 'up']);
  if (up.exitCode !== 0) throw new Error(`local up failed:\n${up.all}`);
  return openBenchCluster(dir);
}

/** A running local cluster under `dir` (its pgha.yaml), handed to a benchmark; destroy() takes it down and removes the folder. */
export function openBenchCluster(dir: string): BenchCluster {
  const config = loadConfig({ dir }).config;
  const pgha = (args: string[]) => pghaIn(dir, args);
  return {
    dir,
    config,
    pgha,
    async sql(node, text) {
      const n = config.nodes.find((x) => x.name === node)!;
      const c = new pg.Client({ host: n.host, port: config.postgres.port, user: 'repmgr', password: config.repmgr.password, database: 'repmgr' });
      await c.connect();
      try {
        return await c.query(text);
      } finally {
        await c.end();
      }
    },
    async destroy() {
      await pgha(['local', 'down']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
