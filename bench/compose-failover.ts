// Failover write downtime of the compose deployment as its clients see it (`npm run bench:compose`,
// needs root): docker-compose.yml's cluster on podman (test/engine), two writers inserting every
// 100 ms on a new connection each time, one through HAProxy's write port, one with libpq's multi-host
// `target_session_attrs=read-write` straight to the nodes (the baseline: no proxy in the way). Trials:
// the primary's container killed (`podman kill`), then started again and rejoined; the primary's
// container cut off the network, then connected again and rejoined. BENCH_COMPOSE_TRIALS (3) each.
import { mkdtempSync, rmSync } from 'node:fs';
import { buildImages, COMPOSE_IMAGES, Engine } from '../test/engine/podman.js';
import { ComposeCluster, freshDotEnv } from '../test/engine/cluster.js';
import { DOWNTIME_TABLE, startWriter, writeDowntime } from '../test/engine/clients.js';
import { pollUntil } from '../src/wait.js';
import { repoRoot, report, type Figure } from './lib.js';

const trials = Number(process.env.BENCH_COMPOSE_TRIALS ?? 3);
const started = Date.now();
const log = (s: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const nodes = ['pg1', 'pg2', 'pg3'];

const id = process.pid % 10_000;
// BENCH_COMPOSE_FAST=false: the same with repmgrd alone (repmgr.fastFailover off), the baseline of the node workers' detector
const fast = process.env.BENCH_COMPOSE_FAST !== 'false';
const dir = mkdtempSync('/tmp/pgha-bench-compose-');
const engine = new Engine(`pgha-bc${id}`);
const cluster = new ComposeCluster(engine, `pghabc${id}`, repoRoot, dir, freshDotEnv({ SUBNET: `172.30.${(id % 200) + 20}.0/24`, REPMGR_FAST_FAILOVER: String(fast) }));

/** One primary and every other node streaming from it; returns the primary. */
const whole = (timeoutMs: number) =>
  pollUntil('one primary, the others its standbys', async () => {
    const r = await cluster.roles().catch(() => ({}) as Record<string, string>);
    const p = nodes.find((n) => r[n] === 'primary');
    return p && nodes.every((n) => n === p || r[n] === `standby<-${p}`) ? p : undefined;
  }, { timeoutMs, everyMs: 2000 });

async function trial(kind: 'kill' | 'cut', i: number): Promise<{ haproxy: number; multihost: number }> {
  const primary = await whole(300_000);
  const ips = await Promise.all(nodes.map((n) => cluster.ipOf(n)));
  const tag = `${kind}${i}`;
  const writers = [
    startWriter(engine, `haproxy-${tag}`, 'host=127.0.0.1 port=5000 user=repmgr dbname=repmgr', cluster.dotEnv.REPMGR_PASSWORD),
    startWriter(engine, `multihost-${tag}`, `host=${ips.join(',')} port=5432 user=repmgr dbname=repmgr target_session_attrs=read-write`, cluster.dotEnv.REPMGR_PASSWORD),
  ];
  try {
    await pollUntil('both writers writing', () => writers.every((w) => w.acked().length >= 20), { timeoutMs: 60_000, everyMs: 100 });
    let at = Date.now();
    if (kind === 'kill') {
      const k = await engine.podman(['kill', cluster.container(primary)]);
      if (k.exitCode !== 0) throw new Error(`podman kill ${primary}: ${k.stderr}`);
    } else at = await cluster.cut(primary);
    await pollUntil('both writers writing again', () => writers.every((w) => w.tries.some((x) => x.ok && x.t > at + 500)) && Date.now() - at > 5000, { timeoutMs: 180_000, everyMs: 200 });
    const [haproxy, multihost] = writers.map((w) => writeDowntime(w.tries, at)! / 1000);
    log(`${kind} of ${primary}, trial ${i + 1}/${trials}: write downtime through HAProxy ${haproxy.toFixed(2)} s, multi-host libpq ${multihost.toFixed(2)} s`);
    return { haproxy, multihost };
  } finally {
    for (const w of writers) w.stop();
    if (kind === 'kill') await engine.podman(['start', cluster.container(primary)]);
    else await cluster.heal(primary);
  }
}

try {
  log(`images: ${(await buildImages(repoRoot, COMPOSE_IMAGES)).toFixed(0)} s`);
  await engine.start();
  engine.startHealthChecks(cluster.project.name);
  await cluster.up();
  const primary = await whole(600_000);
  log(`cluster up, ${primary} the primary`);
  const r = await cluster.sql(primary, DOWNTIME_TABLE);
  if (!r.ok) throw new Error(r.out);
  const figures: Figure[] = [];
  for (const kind of ['kill', 'cut'] as const) {
    const xs: { haproxy: number; multihost: number }[] = [];
    for (let i = 0; i < trials; i++) xs.push(await trial(kind, i));
    figures.push({
      name: `compose${fast ? '' : ' (repmgrd alone)'}: write downtime through HAProxy, primary's container ${kind === 'kill' ? 'killed' : 'cut off'}`,
      unit: 's',
      pgha: xs.map((x) => x.haproxy),
      baseline: xs.map((x) => x.multihost),
      baselineName: 'libpq multi-host, target_session_attrs=read-write',
    });
  }
  await whole(300_000);
  console.log(report(figures));
} finally {
  await cluster.down();
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
}
log('done');
