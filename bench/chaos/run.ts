// The nemesis suite (`npm run chaos -- [--seconds N] [--seed S] [--synchronous quorum|off] [--nemeses a,b]`):
// a local 3-node cluster under a recorded workload, faults one after another, and checkers.
// Workload: unique-key inserts from a client that follows the primary and from one pinned to
// node1's address, and bank transfers (the total must stay constant), every acknowledged write
// recorded. Nemeses: kill -9 of the primary's host, a frozen primary (SIGSTOP … SIGCONT), a standby
// killed, a node worker killed, Redis down, CPU starvation (stress-ng), every node killed one after
// another and all started at once. After each fault: the cluster must heal by itself (one primary,
// every other node streaming from it) within --heal-seconds. At the end: no acknowledged write
// missing from the final primary (quorum mode), the bank's total, the same data on every node,
// barman streaming from the final primary.
// Exit 0 when every check held, 1 otherwise; the report says per nemesis what happened.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { barmanPaths } from '../../src/config/paths.js';
import { serverConfPrimary } from '../../src/barman/render.js';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { layout, localConfig } from '../../src/local/cluster.js';
import { LOCAL_DEFAULTS } from '../../src/config/paths.js';
import { localFreeze, localKill } from '../../src/local/hosts.js';
import { readPidFile } from '../../src/fsutil.js';
import { writablePrimaries } from '../stream.js';
import { repoRoot } from '../lib.js';
import { perNemesis, prng, type NemesisEvent } from './check.js';
import { finalChecks, log, nemesisCommand, sleep, startWorkload, until, wholeCluster } from './workload.js';
import { oneOf, wholeNumber } from '../../cli/args.js';

const NEMESES = ['kill-primary', 'pause-primary', 'kill-standby', 'kill-worker', 'redis-down', 'cpu-starve', 'kill-all'] as const;
type Nemesis = (typeof NEMESES)[number];

interface Options {
  seconds: number;
  seed: number;
  synchronous: 'quorum' | 'off';
  nemeses: Nemesis[];
  healSeconds: number;
  baseIp: string;
}

function parseArgs(argv: string[]): Options {
  return nemesisCommand('chaos', 'nemeses against a recorded workload on a local cluster, then the checks')
    .option('--seconds <n>', 'how long the nemeses run', wholeNumber('--seconds', 10), 240)
    .option('--synchronous <mode>', 'quorum or off', oneOf('--synchronous', ['quorum', 'off'] as const), 'quorum')
    .option('--nemeses <list>', `comma list of: ${NEMESES.join(', ')}`, oneOf('--nemeses', NEMESES, true), [...NEMESES])
    .option('--base-ip <ip>', 'address of node1', '127.0.40.11')
    .parse(argv)
    .opts<Options>();
}

async function main() {
  const o = parseArgs(process.argv);
  const rnd = prng(o.seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const dir = mkdtempSync('/tmp/pgha-chaos-');
  const pgha = (args: string[], timeoutMs = 300_000) => execa(process.execPath, [join(repoRoot, 'bin', 'pgha.js'), ...args], { reject: false, all: true, cwd: repoRoot, timeout: timeoutMs });
  const hasStress = (await execa('which', ['stress-ng'], { reject: false })).exitCode === 0;
  const nemeses = o.nemeses.filter((n) => n !== 'cpu-starve' || hasStress);
  log(`seed ${o.seed}, ${o.seconds} s, replication.synchronous ${o.synchronous}, nemeses ${nemeses.join(', ')}${hasStress ? '' : ' (no stress-ng: cpu-starve left out)'}; state in ${dir}`);
  const raw = localConfig({ ...LOCAL_DEFAULTS, dir, baseIp: o.baseIp, redisPort: 6700 + (o.seed % 200), dashboardPort: 8700 + (o.seed % 200), nodes: 3 }) as any;
  raw.replication = { synchronous: o.synchronous };
  writeFileSync(join(dir, 'pgha.yaml'), stringify(raw), { mode: 0o600 });
  let failed = false;
  const events: NemesisEvent[] = [];
  try {
    const up = await pgha(['local', 'up', '--dir', dir]);
    if (up.exitCode !== 0) throw new Error(`local up failed:\n${up.all}`);
    const config = loadConfig({ dir }).config;
    const first = (await writablePrimaries(config))[0];
    const workload = await startWorkload(config, first);
    const { acked, bank } = workload;
    const heal = async (what: string) => {
      const t0 = Date.now();
      try {
        await until(`${what}: one primary, the others streaming from it`, () => wholeCluster(config), o.healSeconds * 1000, 500);
        return Date.now() - t0;
      } catch (err) {
        log(`NOT HEALED: ${(err as Error).message}`);
        return null;
      }
    };
    const end = Date.now() + o.seconds * 1000;
    while (Date.now() < end) {
      const nemesis = pick(nemeses);
      const primary = (await writablePrimaries(config))[0] ?? pick(config.nodes).name;
      const standbys = config.nodes.map((n) => n.name).filter((n) => n !== primary);
      const startedAt = Date.now();
      let target = primary;
      let note: string | undefined;
      log(`nemesis ${nemesis}`);
      switch (nemesis) {
        case 'kill-primary':
          await localKill(dir, primary, () => {});
          await until('a new primary', async () => (await writablePrimaries(config)).find((n) => n !== primary), 60_000).catch((e) => (note = e.message));
          await pgha(['local', 'start', primary, '--dir', dir]);
          break;
        case 'pause-primary':
          await localFreeze(dir, primary, 'SIGSTOP', () => {});
          await until('a standby promoted', async () => (await writablePrimaries(config)).find((n) => n !== primary), 40_000).catch(() => (note = 'no promotion while frozen'));
          await localFreeze(dir, primary, 'SIGCONT', () => {});
          break;
        case 'kill-standby':
          target = pick(standbys);
          await localKill(dir, target, () => {});
          await sleep(2000 + rnd() * 3000);
          await pgha(['local', 'start', target, '--dir', dir]);
          break;
        case 'kill-worker': {
          target = pick(config.nodes).name;
          const pid = readPidFile(join(layout(dir).pidDir, `${target}-worker.pid`));
          if (pid) process.kill(pid, 'SIGKILL');
          await sleep(1000 + rnd() * 2000);
          await pgha(['local', 'start', target, '--dir', dir]);
          break;
        }
        case 'redis-down': {
          target = 'redis';
          const pid = readPidFile(layout(dir).redisPid);
          if (pid) process.kill(pid, 'SIGKILL');
          await sleep(5000 + rnd() * 5000);
          // local up starts what died (redis) and leaves the rest running
          const again = await pgha(['local', 'up', '--dir', dir]);
          if (again.exitCode !== 0) note = `local up after Redis: exit ${again.exitCode}`;
          break;
        }
        case 'cpu-starve':
          target = 'machine';
          await execa('stress-ng', ['--cpu', '8', '--timeout', '20s', '--quiet'], { reject: false });
          break;
        case 'kill-all': {
          target = 'all';
          for (const n of [primary, ...standbys]) {
            await localKill(dir, n, () => {});
            await sleep(500 + rnd() * 1500);
          }
          await Promise.all(config.nodes.map((n) => pgha(['local', 'start', n.name, '--dir', dir])));
          break;
        }
      }
      const healedMs = await heal(nemesis);
      events.push({ nemesis, target, startedAt, healedMs, note });
      log(`  ${target}: ${healedMs === null ? 'NOT healed' : `healed ${(healedMs / 1000).toFixed(1)} s after the fault ended`}${note ? ` (${note})` : ''}`);
      if (healedMs === null) break;
      await sleep(2000 + rnd() * 3000);
    }
    await workload.stop();

    // ---- checks ----------------------------------------------------------------------------
    const problems: string[] = [];
    const primary = await until('a whole cluster for the final checks', () => wholeCluster(config), o.healSeconds * 1000, 500).catch(() => undefined);
    if (!primary) problems.push('the cluster did not heal for the final checks');
    else {
      const { lost, bankTotal: total, interleaved, divergence: d } = await finalChecks(config, primary, acked);
      log(`acknowledged inserts: ${acked.length}, lost: ${lost.length}${lost.length ? ` (${[...new Set(lost.map((l) => l.node))].join(', ')}; first keys ${lost.slice(0, 10).map((l) => l.key).join(', ')})` : ''}; bank transfers ${bank.transfers}`);
      if (o.synchronous === 'quorum' && lost.length) problems.push(`${lost.length} acknowledged inserts lost`);
      if (total !== 10_000) problems.push(`bank total ${total}, expected 10000`);
      log(`moments with two nodes acknowledging writes: ${interleaved.length}`);
      // asynchronous replication (off) admits both: a resumed primary acknowledges alone until it is fenced
      if (o.synchronous === 'quorum' && interleaved.length) problems.push(`${interleaved.length} moments with two nodes acknowledging writes (first at ${new Date(interleaved[0].at).toISOString()}: ${interleaved[0].nodes.join(' and ')})`);
      if (d) problems.push(`nodes differ: ${d}`);
      // barman streams from the final primary, whatever events were lost on the way (its reconcile: two runs 30 s apart)
      const pointsAt = () => serverConfPrimary(config, readFileSync(barmanPaths(config).serverConf, 'utf8'));
      const followed = await until(`barman streams from ${primary}`, async () => pointsAt() === primary, 150_000, 1000).then(() => true, () => false);
      log(`barman's server file points at ${pointsAt() ?? 'no node'}`);
      if (!followed) problems.push(`barman streams from ${pointsAt() ?? 'no node'}, not from the primary ${primary}`);
    }
    const unhealed = events.filter((e) => e.healedMs === null);
    if (unhealed.length) problems.push(`${unhealed.map((e) => e.nemesis).join(', ')}: the cluster did not heal by itself within ${o.healSeconds} s`);

    console.log('\n| nemesis | runs | healed | heal median (s) | heal max (s) |\n|---|---|---|---|---|');
    for (const r of perNemesis(events)) console.log(`| ${r.nemesis} | ${r.runs} | ${r.healed} | ${r.medianHealMs === null ? '-' : (r.medianHealMs / 1000).toFixed(1)} | ${r.maxHealMs === null ? '-' : (r.maxHealMs / 1000).toFixed(1)} |`);
    console.log(`\n${events.length} nemesis events, seed ${o.seed}, replication.synchronous ${o.synchronous}`);
    if (problems.length) {
      failed = true;
      console.log(`FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}\nstate kept in ${dir} (logs/, state/nodes/*/postgresql.log)`);
    } else if (o.synchronous === 'quorum') console.log('every check held: nothing acknowledged lost, bank total kept, one node acknowledging at a time, nodes identical, barman on the primary, healed after every fault');
    else console.log('every check held for asynchronous replication: bank total kept, nodes identical, barman on the primary, healed after every fault (lost acknowledged writes and two-writer moments are counted above, not failures in this mode)');
  } catch (err) {
    failed = true;
    console.log(`FAILED: ${(err as Error).message}; state kept in ${dir}`);
  } finally {
    await pgha(['local', 'down', '--dir', dir], 120_000);
    // every process of this run ends with it; the folder stays only for a failed run
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
