// The network-cut nemesis (`npm run chaos:cut -- [--rounds N] [--seed S] [--synchronous quorum|off]`):
// docker-compose.yml's cluster on podman (test/engine: images built from the Dockerfile, services
// started by docker-compose), the recorded workload of `npm run chaos` running in a client container
// of its own on the compose network (bench/chaos/cut-client.ts), and rounds of: a node's container
// cut off the network (`podman network disconnect`; the primary two times in three, else a standby),
// held until a standby took over (or 5-15 s for a standby), connected again. Write samplers inside
// every node's container see writes taken on the cut-off side. Per round: failover time (the cut until another node takes writes, seen from the
// client) and heal time (until every node streams from one primary again). At the end: no
// acknowledged write lost (quorum mode), the bank's total, nodes identical, at most one node taking
// writes at any moment (from the samplers inside the namespaces and from the client's acks).
// Exit 0 when every check held, 1 otherwise. Needs root (rootful podman) and what
// `scripts/ensure-deps.sh --test` installs; `npm run chaos:cut` builds first.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { twoWritableMoments } from '../../test/engine/clients.js';
import { buildImages, COMPOSE_IMAGES, Engine, imageName } from '../../test/engine/podman.js';
import { ComposeCluster, freshDotEnv } from '../../test/engine/cluster.js';
import { median, repoRoot } from '../lib.js';
import { prng } from './check.js';
import { log, nemesisCommand, sleep, until } from './workload.js';
import { oneOf, wholeNumber } from '../../cli/args.js';

interface Options {
  rounds: number;
  seed: number;
  synchronous: 'quorum' | 'off';
  healSeconds: number;
}

function parseArgs(argv: string[]): Options {
  return nemesisCommand('chaos:cut', 'rounds of a node cut off the network then healed, on the compose cluster')
    .option('--rounds <n>', 'how many cuts', wholeNumber('--rounds', 1), 6)
    .option('--synchronous <mode>', 'quorum or off', oneOf('--synchronous', ['quorum', 'off'] as const), 'quorum')
    .parse(argv)
    .opts<Options>();
}

const secs = (ms: number | null) => (ms === null || Number.isNaN(ms) ? '-' : (ms / 1000).toFixed(1));

async function main() {
  const o = parseArgs(process.argv);
  const rnd = prng(o.seed);
  const nodes = ['pg1', 'pg2', 'pg3'];
  const dir = mkdtempSync('/tmp/pgha-cut-');
  const engine = new Engine(`pgha-cut${process.pid % 10_000}`);
  const cluster = new ComposeCluster(engine, `pghacut${process.pid % 10_000}`, repoRoot, dir, freshDotEnv({ SUBNET: `172.30.${(process.pid % 200) + 10}.0/24`, REPLICATION_SYNCHRONOUS: o.synchronous }));
  let failed = false;
  const samplers: ReturnType<ComposeCluster['sampler']>[] = [];
  let client: ReturnType<Engine['podman']> | undefined;
  try {
    log(`seed ${o.seed}, ${o.rounds} rounds, replication.synchronous ${o.synchronous}; building the images from the Dockerfile`);
    const took = await buildImages(repoRoot, COMPOSE_IMAGES);
    log(`images ${COMPOSE_IMAGES.map(imageName).join(', ')} ready in ${took.toFixed(0)} s; docker-compose up`);
    await engine.start();
    engine.startHealthChecks(cluster.project.name);
    await cluster.up();
    // the workload, from a container of its own on the compose network, with the cluster's settings
    // (the dashboard's environment) and this checkout's compiled bench
    const env = Object.fromEntries(
      (JSON.parse(String((await engine.podman(['inspect', '--format', '{{json .Config.Env}}', cluster.container('dashboard')])).stdout)) as string[])
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])
        .filter(([k]) => k.startsWith('PGHA_')),
    );
    client = engine.podman(
      ['run', '-i', '--rm', '--name', cluster.container('cutclient'), '--network', cluster.network, '--entrypoint', 'node', '-v', `${repoRoot}:/repo:ro`, '-w', '/repo', ...Object.keys(env).flatMap((k) => ['-e', k]), imageName('dashboard'), 'dist/bench/chaos/cut-client.js'],
      { env, buffer: false, stdin: 'pipe', stderr: 'inherit' },
    );
    const answers = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<any> => {
      const r = await answers.next();
      if (r.done) throw new Error('the workload client ended');
      return JSON.parse(r.value);
    };
    const ask = async (cmd: string): Promise<any> => {
      client!.stdin!.write(`${cmd}\n`);
      return next();
    };
    const ready = await next();
    log(`cluster whole, ${ready.ready} the primary; workload running`);
    for (const n of nodes) samplers.push(cluster.sampler(n));
    const whole = async (timeoutMs: number) => until('one primary, every other node streaming from it', async () => (await ask('primary')).primary ?? undefined, timeoutMs, 500);

    const rounds: { nemesis: string; target: string; failoverMs: number | null; healMs: number | null }[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const primary = (await whole(o.healSeconds * 1000)) as string;
      const cutPrimary = rnd() < 2 / 3;
      const target = cutPrimary ? primary : nodes.filter((n) => n !== primary)[Math.floor(rnd() * (nodes.length - 1))];
      const nemesis = cutPrimary ? 'cut-primary' : 'cut-standby';
      log(`round ${r + 1}: ${nemesis} ${target}`);
      const cutAt = await cluster.cut(target);
      let failoverMs: number | null = null;
      if (cutPrimary) {
        failoverMs = await until('another node takes writes', async () => ((await ask('writable')).writable as string[]).some((n) => n !== target) && Date.now() - cutAt, 90_000, 200).catch(() => null);
        await sleep(2000 + rnd() * 3000);
      } else await sleep(5000 + rnd() * 10_000);
      await cluster.heal(target);
      const healedAt = Date.now();
      const healMs = await whole(o.healSeconds * 1000).then(() => Date.now() - healedAt, () => null);
      rounds.push({ nemesis, target, failoverMs, healMs });
      log(`  ${failoverMs === null ? '' : `another node took writes ${secs(failoverMs)} s after the cut; `}${healMs === null ? 'NOT healed' : `healed ${secs(healMs)} s after the link came back`}`);
      if (healMs === null) break;
      await sleep(2000 + rnd() * 3000);
    }

    // ---- checks ----------------------------------------------------------------------------
    for (const s of samplers) s.stop();
    const report = (await ask(`check ${o.healSeconds}`)).report;
    const moments = twoWritableMoments(samplers);
    const problems: string[] = [];
    if (!report.healed) problems.push('the cluster did not heal for the final checks');
    else {
      log(`acknowledged inserts: ${report.acked}, lost: ${report.lost}${report.lost ? ` (${report.lostFrom.join(', ')})` : ''}; bank transfers ${report.transfers}, total ${report.bankTotal}`);
      if (o.synchronous === 'quorum' && report.lost) problems.push(`${report.lost} acknowledged inserts lost`);
      if (report.bankTotal !== 10_000) problems.push(`bank total ${report.bankTotal}, expected 10000`);
      if (report.divergence) problems.push(`nodes differ: ${report.divergence}`);
      log(`moments with two nodes taking writes: ${moments.length} in the samplers inside the containers, ${report.interleaved} in the client's acks`);
      if (o.synchronous === 'quorum' && (moments.length || report.interleaved)) problems.push(`two nodes took writes at once (${moments.length} sampler moments, first ${moments[0] ? `${new Date(moments[0].t).toISOString()}: ${moments[0].nodes.join(' and ')}` : '-'}; ${report.interleaved} in the acks)`);
    }
    if (rounds.some((x) => x.healMs === null)) problems.push('a cut did not heal by itself');
    if (rounds.some((x) => x.nemesis === 'cut-primary' && x.failoverMs === null)) problems.push('a cut primary was not replaced within 90 s');

    console.log('\n| nemesis | runs | failover median (s) | failover max (s) | heal median (s) | heal max (s) |\n|---|---|---|---|---|---|');
    for (const nemesis of ['cut-primary', 'cut-standby']) {
      const xs = rounds.filter((x) => x.nemesis === nemesis);
      if (!xs.length) continue;
      const f = xs.map((x) => x.failoverMs).filter((x): x is number => x !== null);
      const h = xs.map((x) => x.healMs).filter((x): x is number => x !== null);
      console.log(`| ${nemesis} | ${xs.length} | ${secs(median(f))} | ${f.length ? secs(Math.max(...f)) : '-'} | ${secs(median(h))} | ${h.length ? secs(Math.max(...h)) : '-'} |`);
    }
    console.log(`\n${rounds.length} cuts, seed ${o.seed}, replication.synchronous ${o.synchronous}`);
    if (problems.length) {
      failed = true;
      console.log(`FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}\nservice logs kept in ${dir}/*.log`);
    } else console.log(o.synchronous === 'quorum' ? 'every check held: nothing acknowledged lost, bank total kept, one node taking writes at a time, nodes identical, healed after every cut' : 'every check held for asynchronous replication: bank total kept, nodes identical, healed after every cut (lost writes and two-writer moments counted above)');
  } catch (err) {
    failed = true;
    console.log(`FAILED: ${(err as Error).stack}; service logs kept in ${dir}`);
  } finally {
    for (const s of samplers) s.stop();
    client?.kill('SIGKILL');
    if (failed) {
      for (const s of [...nodes, 'barman', 'dashboard', 'redis', 'haproxy']) {
        const logs = await engine.podman(['logs', cluster.container(s)], { all: true });
        if (logs.exitCode === 0) writeFileSync(join(dir, `${s}.log`), String(logs.all));
      }
    }
    await engine.podman(['rm', '-f', cluster.container('cutclient')]);
    await cluster.down();
    await engine.stop();
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write('', () => process.exit(failed ? 1 : 0));
}

await main();
