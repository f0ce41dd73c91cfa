// Failover: `local kill` of the primary under a steady insert stream; seconds to the first insert
// acknowledged by the new primary, acknowledged keys lost, two-primary moments. The same with
// repmgr's default timings (monitor 2 s, reconnect 6 × 10 s) as the anchor. After each trial the old
// primary is started again and rejoins (pg_rewind) so the next trial starts from 3 nodes.
// Switchover: write downtime (longest gap between acknowledged inserts) of `pgha switchover`,
// against the raw floor: pg_ctl stop of the primary and pg_ctl promote of the standby by hand.
import { readFileSync } from 'node:fs';
import { sleep } from '../src/wait.js';
import { execa } from 'execa';
import { nodePaths } from '../src/config/paths.js';
import { localKill } from '../src/local/hosts.js';
import { benchCluster, type BenchCluster } from './cluster.js';
import { insertStream, longestAckGap, splitBrainSampler, writablePrimaries } from './stream.js';
import type { Figure } from './lib.js';

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

export interface FailoverTrial {
  seconds: number;
  lost: number;
  acked: number;
  twoPrimaryMoments: number;
}

/** With `bringBack` false (a cluster's last trial before it is destroyed) the old primary stays down. */
async function failoverTrial(c: BenchCluster, bringBack: boolean): Promise<FailoverTrial> {
  const [primary] = await writablePrimaries(c.config);
  const sampler = splitBrainSampler(c.config);
  const stream = insertStream(c.config);
  await until('inserts', async () => stream.acked.length > 30, 30_000);
  const killedAt = Date.now();
  // `local kill`'s own code in this process: the figure is the failover, not a CLI's start-up
  await localKill(c.dir, primary, () => {});
  await until('a write on the new primary', async () => stream.acked.some((a) => a.at > killedAt && a.node !== primary), 180_000);
  const first = stream.acked.find((a) => a.at > killedAt && a.node !== primary)!;
  await sleep(500);
  await stream.stop();
  await sampler.stop();
  const present = new Set((await c.sql(first.node, 'SELECT k FROM stream')).rows.map((r) => Number(r.k)));
  const lost = stream.acked.filter((a) => !present.has(a.k)).length;
  if (bringBack) {
    const start = await c.pgha(['local', 'start', primary]);
    if (start.exitCode !== 0) throw new Error(`old primary did not come back:\n${start.all}`);
    // let the follow-up flow settle before the next trial
    await sleep(3000);
  }
  return { seconds: (first.at - killedAt) / 1000, lost, acked: stream.acked.length, twoPrimaryMoments: sampler.twoPrimaryMoments.length };
}

/** `keepUp`: the cluster serves more benchmarks after these trials, so the old primary comes back after the last one too. */
export async function failoverTrials(c: BenchCluster, n: number, name: string, log: (s: string) => void, keepUp = false): Promise<FailoverTrial[]> {
  const out: FailoverTrial[] = [];
  await c.sql((await writablePrimaries(c.config))[0], 'CREATE TABLE IF NOT EXISTS stream (k bigint PRIMARY KEY)');
  for (let i = 0; i < n; i++) {
    await c.sql((await writablePrimaries(c.config))[0], 'TRUNCATE stream');
    out.push(await failoverTrial(c, keepUp || i < n - 1));
    log(`failover ${name} trial ${i + 1}/${n}: ${out[i].seconds.toFixed(2)} s, ${out[i].lost} of ${out[i].acked} acknowledged lost, ${out[i].twoPrimaryMoments} two-primary moments`);
  }
  return out;
}

/** The anchor: the same trials on a cluster of its own running repmgr's default timings (monitor 2 s, 6 × 10 s), repmgrd alone. */
export async function anchorTrials(n: number, log: (s: string) => void): Promise<FailoverTrial[]> {
  const c = await benchCluster('repmgr-defaults', '127.0.10.11', { redis: 6393, dashboard: 8093 }, { monitorIntervalSecs: 2, reconnectAttempts: 6, reconnectIntervalSecs: 10, fastFailover: false });
  try {
    return await failoverTrials(c, n, 'repmgr-defaults', log);
  } finally {
    await c.destroy();
  }
}

/** The same trials on a cluster of its own with pgha's repmgrd timings but repmgr.fastFailover off: repmgrd alone promotes. */
export async function repmgrdAloneTrials(n: number, log: (s: string) => void): Promise<FailoverTrial[]> {
  const c = await benchCluster('repmgrd-alone', '127.0.12.11', { redis: 6396, dashboard: 8096 }, { fastFailover: false });
  try {
    return await failoverTrials(c, n, 'repmgrd-alone', log);
  } finally {
    await c.destroy();
  }
}

/** The figures: pgha (its node workers' detector) against repmgrd alone with pgha's timings, and against repmgr's defaults. */
export function failoverResult(pgha: FailoverTrial[], anchor: FailoverTrial[], alone: FailoverTrial[] = []): { figures: Figure[]; lost: number[]; twoPrimary: number } {
  const name = 'failover, kill -9 of the primary to first write on the new one';
  const secs = (xs: FailoverTrial[]) => xs.map((t) => t.seconds);
  return {
    figures: [
      ...(alone.length ? [{ name, unit: 's', pgha: secs(pgha), baseline: secs(alone), baselineName: "repmgrd alone, pgha's timings (repmgr.fastFailover: false)", target: 'median ≤ 2 s' }] : []),
      { name, unit: 's', pgha: secs(pgha), baseline: secs(anchor), baselineName: "repmgr's default timings", target: 'median ≤ 2 s' },
    ],
    lost: pgha.map((t) => t.lost),
    twoPrimary: [...pgha, ...anchor, ...alone].reduce((s, t) => s + t.twoPrimaryMoments, 0),
  };
}

/** Trials alternate in blocks: pgha, repmgrd alone, pgha again, so that a noisy stretch of the machine falls on both. */
export async function benchFailover(trials: number, anchorCount: number, log: (s: string) => void): Promise<{ figures: Figure[]; lost: number[]; twoPrimary: number }> {
  const c = await benchCluster('failover', '127.0.9.11', { redis: 6392, dashboard: 8092 });
  let pgha: FailoverTrial[];
  try {
    pgha = await failoverTrials(c, Math.ceil(trials / 2), 'failover', log, true);
    const alone = await repmgrdAloneTrials(trials, log);
    pgha.push(...(await failoverTrials(c, Math.floor(trials / 2), 'failover', log)));
    return failoverResult(pgha, await anchorTrials(anchorCount, log), alone);
  } finally {
    await c.destroy();
  }
}

/** Longest gap between consecutive acknowledged inserts around an operation. */
async function writeDowntime(c: BenchCluster, op: () => Promise<void>): Promise<number> {
  const stream = insertStream(c.config);
  await until('inserts', async () => stream.acked.length > 30, 30_000);
  const from = stream.acked.length - 1;
  await op();
  const last = stream.acked.length;
  await until('inserts after', async () => stream.acked.length > last + 30, 60_000);
  await stream.stop();
  return longestAckGap(stream.acked, from) / 1000;
}

/** On `shared` when given (left up), else on a cluster of its own. */
export async function benchSwitchover(trials: number, log: (s: string) => void, shared?: BenchCluster): Promise<Figure> {
  const c = shared ?? (await benchCluster('switchover', '127.0.11.11', { redis: 6394, dashboard: 8094 }));
  const pgha: number[] = [];
  const raw: number[] = [];
  try {
    await c.sql((await writablePrimaries(c.config))[0], 'CREATE TABLE IF NOT EXISTS stream (k bigint PRIMARY KEY)');
    for (let i = 0; i < trials; i++) {
      const standbys = () => c.config.nodes.map((n) => n.name);
      const [p0] = await writablePrimaries(c.config);
      await c.sql(p0, 'TRUNCATE stream');
      const target = standbys().find((n) => n !== p0)!;
      pgha.push(
        await writeDowntime(c, async () => {
          const r = await c.pgha(['switchover', '--to', target]);
          if (r.exitCode !== 0) throw new Error(`switchover failed:\n${r.all}`);
        }),
      );
      // the floor: stop the primary and promote a standby by hand, nothing else
      const [p1] = await writablePrimaries(c.config);
      await c.sql(p1, 'TRUNCATE stream');
      const t2 = standbys().find((n) => n !== p1)!;
      const pg = (node: string, args: string[]) =>
        execa('runuser', ['-u', 'postgres', '--', `${c.config.postgres.binDir}/pg_ctl`, '-D', nodePaths(c.config, node).dataDir, ...args]);
      await execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${nodePaths(c.config, t2).passfile}`, 'repmgr', '-f', nodePaths(c.config, t2).repmgrConf, 'service', 'pause'], { reject: false });
      // with quorum commit (the default) a commit on the promoted node waits for a standby that streams
      // from it: the by-hand floor also makes the third node follow (repmgr standby follow finds the
      // node that is not in recovery), as a DBA would by hand
      const third = standbys().find((x) => x !== p1 && x !== t2);
      raw.push(
        await writeDowntime(c, async () => {
          await pg(p1, ['-m', 'fast', '-w', 'stop']);
          await pg(t2, ['-w', 'promote']);
          if (third) await execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${nodePaths(c.config, third).passfile}`, 'repmgr', '-f', nodePaths(c.config, third).repmgrConf, 'standby', 'follow'], { reject: false });
        }),
      );
      // put the cluster back together: register the promoted node, the stopped primary rejoins
      // (pg_rewind), the third follows, repmgrd of the promoted node restarts, failover resumes
      const asPg = (node: string, args: string[]) =>
        execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${nodePaths(c.config, node).passfile}`, ...args], { reject: false });
      await asPg(t2, ['repmgr', '-f', nodePaths(c.config, t2).repmgrConf, 'primary', 'register', '--force']);
      for (const n of [p1, third!]) {
        await c.pgha(['local', 'kill', n]);
        const back = await c.pgha(['local', 'start', n]);
        if (back.exitCode !== 0) throw new Error(`${n} did not come back after the raw promotion:\n${back.all}`);
      }
      const rd = Number(readFileSync(nodePaths(c.config, t2).repmgrdPid, 'utf8'));
      process.kill(rd, 'SIGTERM');
      await sleep(500);
      await asPg(t2, ['repmgrd', '-f', nodePaths(c.config, t2).repmgrConf, '--daemonize']);
      await asPg(t2, ['repmgr', '-f', nodePaths(c.config, t2).repmgrConf, 'service', 'unpause']);
      await sleep(2000);
      log(`switchover trial ${i + 1}/${trials}: pgha ${pgha[i].toFixed(2)} s, raw stop+promote ${raw[i].toFixed(2)} s of write downtime`);
    }
  } finally {
    if (!shared) await c.destroy();
  }
  return { name: 'switchover write downtime', unit: 's', pgha, baseline: raw, baselineName: 'pg_ctl stop + pg_ctl promote (+ repmgr standby follow of the third) by hand', target: '≤ 2 s' };
}
