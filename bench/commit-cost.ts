// The commit cost of zero-loss mode: pgbench's TPC-B-like load (4 clients, 2 threads) against the
// primary of a 3-node cluster with replication.synchronous: quorum (every commit waits for one
// standby's flush) beside the same cluster with off (asynchronous), both up at once, trials
// alternating so the machine's noise hits both alike. Figures: TPS and mean latency, quorum / off.
import { execa } from 'execa';
import { benchCluster, type BenchCluster } from './cluster.js';
import { writablePrimaries } from './stream.js';
import type { Figure } from './lib.js';

const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';

async function pgbench(c: BenchCluster, args: string[]) {
  const primary = (await writablePrimaries(c.config))[0];
  const host = c.config.nodes.find((n) => n.name === primary)!.host;
  // the password through the environment, never on a command line
  return execa(PGBENCH, ['-h', host, '-p', String(c.config.postgres.port), '-U', 'postgres', ...args, 'pgbench'], { env: { PGPASSWORD: c.config.postgres.rootPassword } });
}

/** One pgbench run's TPS and mean latency (ms), read from its summary. */
export function pgbenchSummary(out: string): { tps: number; latencyMs: number } {
  const tps = /tps = ([\d.]+)/.exec(out);
  const lat = /latency average = ([\d.]+) ms/.exec(out);
  if (!tps || !lat) throw new Error(`pgbench printed no summary:\n${out}`);
  return { tps: Number(tps[1]), latencyMs: Number(lat[1]) };
}

export async function benchCommitCost(trials: number, seconds: number, log: (s: string) => void): Promise<Figure[]> {
  const clusters: BenchCluster[] = [];
  try {
    clusters.push(await benchCluster('quorum', '127.0.8.11', { redis: 6392, dashboard: 8092 }, {}, 3, { replication: { synchronous: 'quorum' } }));
    clusters.push(await benchCluster('async', '127.0.8.21', { redis: 6393, dashboard: 8093 }, {}, 3, { replication: { synchronous: 'off' } }));
    for (const c of clusters) {
      await c.sql((await writablePrimaries(c.config))[0], 'CREATE DATABASE pgbench OWNER postgres');
      await pgbench(c, ['-i', '-q', '-s', '10']);
    }
    const [quorum, off] = clusters;
    // a commit in quorum mode waits only once a standby streams and the keeper has turned the quorum on
    const on = await quorum.sql((await writablePrimaries(quorum.config))[0], 'SHOW synchronous_standby_names');
    if (!/ANY 1/.test(on.rows[0].synchronous_standby_names)) throw new Error(`quorum cluster: synchronous_standby_names is '${on.rows[0].synchronous_standby_names}', not ANY 1 (…)`);
    const tps = { quorum: [] as number[], off: [] as number[] };
    const lat = { quorum: [] as number[], off: [] as number[] };
    for (let i = 0; i < trials; i++) {
      for (const [name, c] of [['quorum', quorum], ['off', off]] as const) {
        const r = pgbenchSummary((await pgbench(c, ['-n', '-c', '4', '-j', '2', '-T', String(seconds)])).stdout);
        tps[name].push(r.tps);
        lat[name].push(r.latencyMs);
        log(`commit cost trial ${i + 1}/${trials}, ${name}: ${r.tps.toFixed(0)} tps, ${r.latencyMs.toFixed(2)} ms`);
      }
    }
    return [
      { name: 'pgbench TPS, quorum mode', unit: 'tps', pgha: tps.quorum, baseline: tps.off, baselineName: 'replication.synchronous: off', target: '≥ 0.8×' },
      { name: 'pgbench mean latency, quorum mode', unit: 'ms', pgha: lat.quorum, baseline: lat.off, baselineName: 'replication.synchronous: off' },
    ];
  } finally {
    for (const c of clusters) await c.destroy();
  }
}
