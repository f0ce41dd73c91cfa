// The network-cut nemesis (`npm run chaos:cut -- [--rounds N] [--seed S] [--synchronous quorum|off]`):
// docker-compose.yml's cluster on the namespace test bed (test/bed: one network namespace per service,
// the images built from the Dockerfile), the recorded workload of `npm run chaos` running in a client
// namespace of its own (bench/chaos/cut-client.ts), and rounds of: a node cut off the network (its
// link down; the primary two times in three, else a standby), held until a standby took over (or
// 5-15 s for a standby), healed. Write samplers inside every node's namespace see writes taken on the
// cut-off side. Per round: failover time (the cut until another node takes writes, seen from the
// client) and heal time (until every node streams from one primary again). At the end: no
// acknowledged write lost (quorum mode), the bank's total, nodes identical, at most one node taking
// writes at any moment (from the samplers inside the namespaces and from the client's acks).
// Exit 0 when every check held, 1 otherwise. Needs root (namespaces), debootstrap's packages for the
// images (as the compose-bed test), and `npm run build`.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { NetnsBed } from '../../test/bed/netns.js';
import { readCompose, startOrder } from '../../test/bed/compose.js';
import { twoWritableMoments, writeSampler } from '../../test/bed/samplers.js';
import { buildImages } from '../../test/image/build.js';
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
  const secret = () => randomBytes(12).toString('hex');
  const dotEnv = { POSTGRES_ROOT_PASSWORD: secret(), REPMGR_PASSWORD: secret(), REPMGR_STREAMING_PASSWORD: secret(), BARMAN_PASSWORD: secret(), BARMAN_STREAMING_PASSWORD: secret(), DASHBOARD_TOKEN: secret() };
  const compose = readCompose(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), dotEnv);
  const pghaServices = compose.services.filter((s) => Object.keys(s.environment).some((k) => k.startsWith('PGHA_')));
  for (const s of pghaServices) s.environment.PGHA_REPLICATION_SYNCHRONOUS = o.synchronous;
  const nodes = pghaServices.filter((s) => s.command.includes('node')).map((s) => s.name);
  const imagesDir = mkdtempSync('/tmp/pgha-cut-images-');
  const dir = mkdtempSync('/tmp/pgha-cut-');
  chmodSync(dir, 0o755);
  const bed = new NetnsBed([...compose.services.map((s) => s.name), 'client'], undefined, compose.subnet);
  let failed = false;
  const samplers: ReturnType<typeof writeSampler>[] = [];
  try {
    log(`seed ${o.seed}, ${o.rounds} rounds, replication.synchronous ${o.synchronous}; building the images from the Dockerfile`);
    const t0 = Date.now();
    const images = await buildImages(repoRoot, [...new Set(compose.services.map((s) => s.buildTarget).filter((t): t is string => !!t))], imagesDir);
    log(`images built in ${secs(Date.now() - t0)} s; starting ${compose.services.map((s) => s.name).join(', ')} on the bed`);
    await bed.up();
    for (const s of startOrder(compose.services)) {
      bed.start(s, dir, s.buildTarget ? images.get(s.buildTarget) : undefined);
      if (s.kind === 'redis') await until('redis answers', async () => (await bed.exec(s.name, 'redis-cli', ['ping'], { reject: false })).stdout === 'PONG', 20_000, 200);
    }
    // the workload, from a namespace of its own, with the cluster's settings
    const env = pghaServices.find((s) => s.name === 'dashboard')!.environment;
    const client = bed.exec('client', process.execPath, [join(repoRoot, 'dist', 'bench', 'chaos', 'cut-client.js')], { cwd: repoRoot, env: { ...env, PATH: process.env.PATH! }, extendEnv: false, reject: false, buffer: false, stdin: 'pipe', stderr: 'inherit' });
    const answers = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<any> => {
      const r = await answers.next();
      if (r.done) throw new Error('the workload client ended');
      return JSON.parse(r.value);
    };
    const ask = async (cmd: string): Promise<any> => {
      client.stdin!.write(`${cmd}\n`);
      return next();
    };
    const ready = await next();
    log(`cluster whole, ${ready.ready} the primary; workload running`);
    for (const n of nodes) samplers.push(writeSampler(n, (script, env) => bed.exec(n, process.execPath, ['-e', script], { cwd: repoRoot, env: { ...env, PATH: process.env.PATH! }, extendEnv: false, reject: false, buffer: false }), dotEnv.REPMGR_PASSWORD));
    const whole = async (timeoutMs: number) => until('one primary, every other node streaming from it', async () => (await ask('primary')).primary ?? undefined, timeoutMs, 500);

    const rounds: { nemesis: string; target: string; failoverMs: number | null; healMs: number | null }[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const primary = (await whole(o.healSeconds * 1000)) as string;
      const cutPrimary = rnd() < 2 / 3;
      const target = cutPrimary ? primary : nodes.filter((n) => n !== primary)[Math.floor(rnd() * (nodes.length - 1))];
      const nemesis = cutPrimary ? 'cut-primary' : 'cut-standby';
      log(`round ${r + 1}: ${nemesis} ${target}`);
      const cutAt = Date.now();
      await bed.cut(target);
      let failoverMs: number | null = null;
      if (cutPrimary) {
        failoverMs = await until('another node takes writes', async () => ((await ask('writable')).writable as string[]).some((n) => n !== target) && Date.now() - cutAt, 90_000, 200).catch(() => null);
        await sleep(2000 + rnd() * 3000);
      } else await sleep(5000 + rnd() * 10_000);
      await bed.heal(target);
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
      log(`moments with two nodes taking writes: ${moments.length} in the samplers inside the namespaces, ${report.interleaved} in the client's acks`);
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
    // every process of every namespace, then the namespaces
    await bed.down();
    rmSync(imagesDir, { recursive: true, force: true });
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write('', () => process.exit(failed ? 1 : 0));
}

await main();
