// CPU starvation against fencing (`npm run bench:starve -- [--seconds 600] [--idle-seconds 120]`):
// an idle local 3-node cluster with a light insert load (one insert every 100 ms, as a client),
// first for --idle-seconds on a quiet machine (the baseline), then for --seconds under
// `stress-ng --cpu 8`. Counted in each window: fences (the watchdogs' "FENCING" lines), promotions
// (the writable node changed), the watchdog's holds (a stalled process or a slow own
// PostgreSQL: it looked again instead of fencing) and the insert latency. Goal (the fault-proof
// issue): 0 fences and 0 promotions under load. --nice -19 runs the load ahead of the cluster.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { sleep } from '../src/wait.js';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import type { ClusterConfig } from '../src/config/schema.js';
import { layout, localConfig } from '../src/local/cluster.js';
import { LOCAL_DEFAULTS } from '../src/config/paths.js';
import { median, repoRoot } from './lib.js';
import { writablePrimaries } from './stream.js';

interface Window {
  name: string;
  seconds: number;
  fences: number;
  promotions: number;
  holds: number;
  /** The failover detector's decisions to promote ("FAILOVER" lines) and its waits on a silent primary. */
  detectorPromotions: number;
  detectorWaits: number;
  inserts: number[];
  insertErrors: number;
}

const started = Date.now();
const log = (s: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);

function parseArgs(argv: string[]) {
  const o = { seconds: 600, idleSeconds: 120, baseIp: '127.0.43.11', cpu: 8, nice: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(argv[i + 1]);
    if (argv[i] === '--seconds') o.seconds = v;
    else if (argv[i] === '--idle-seconds') o.idleSeconds = v;
    else if (argv[i] === '--cpu') o.cpu = v;
    else if (argv[i] === '--nice') o.nice = v;
    else if (argv[i] === '--base-ip') o.baseIp = argv[i + 1];
    else throw new Error(`unknown option ${argv[i]}; known: --seconds, --idle-seconds, --cpu, --nice, --base-ip`);
  }
  return o;
}

/** The one writable node, or null when none or more than one answers (a failover moves it to another node). */
async function primaryOf(config: ClusterConfig): Promise<string | null> {
  const w = await writablePrimaries(config);
  return w.length === 1 ? w[0] : null;
}

/** Lines of every node worker's log matching `re` (the logs grow: counted as a difference). */
function countLines(dir: string, config: ClusterConfig, re: RegExp): number {
  let n = 0;
  for (const node of config.nodes) {
    try {
      n += readFileSync(join(layout(dir).logDir, `${node.name}-worker.log`), 'utf8').split('\n').filter((l) => re.test(l)).length;
    } catch {
      /* no log yet */
    }
  }
  return n;
}

const FENCE = /FENCING /;
const HOLD = /checks were late|own PostgreSQL answered/;
const DETECTED = /FAILOVER: /;
const DETECTOR_WAIT = /failover detector: \S+ \(the primary\) has not answered for/;

async function measure(name: string, seconds: number, dir: string, config: ClusterConfig, load: (() => Promise<unknown>) | null): Promise<Window> {
  const w: Window = { name, seconds, fences: 0, promotions: 0, holds: 0, detectorPromotions: 0, detectorWaits: 0, inserts: [], insertErrors: 0 };
  const fences0 = countLines(dir, config, FENCE);
  const holds0 = countLines(dir, config, HOLD);
  const detected0 = countLines(dir, config, DETECTED);
  const waits0 = countLines(dir, config, DETECTOR_WAIT);
  let current = await primaryOf(config);
  const end = Date.now() + seconds * 1000;
  const stress = load?.();
  let client: pg.Client | undefined;
  const writer = (async () => {
    while (Date.now() < end) {
      const t0 = Date.now();
      try {
        if (!client) {
          const p = current ?? config.nodes[0].name;
          const n = config.nodes.find((x) => x.name === p)!;
          client = new pg.Client({ host: n.host, port: config.postgres.port, user: 'postgres', password: config.postgres.rootPassword, database: 'repmgr', options: '-c search_path=repmgr,public', connectionTimeoutMillis: 5000, query_timeout: 10_000 });
          client.on('error', () => {});
          await client.connect();
        }
        await client.query('INSERT INTO starve (at) VALUES (now())');
        w.inserts.push(Date.now() - t0);
      } catch {
        w.insertErrors++;
        await client?.end().catch(() => {});
        client = undefined;
      }
      await sleep(Math.max(0, 100 - (Date.now() - t0)));
    }
  })();
  while (Date.now() < end) {
    await sleep(2000);
    const p = await primaryOf(config);
    if (p && current && p !== current) {
      w.promotions++;
      log(`${name}: the primary changed from ${current} to ${p}`);
    }
    if (p) current = p;
  }
  await writer;
  await client?.end().catch(() => {});
  await stress;
  w.fences = countLines(dir, config, FENCE) - fences0;
  w.holds = countLines(dir, config, HOLD) - holds0;
  w.detectorPromotions = countLines(dir, config, DETECTED) - detected0;
  w.detectorWaits = countLines(dir, config, DETECTOR_WAIT) - waits0;
  return w;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if ((await execa('which', ['stress-ng'], { reject: false })).exitCode !== 0) throw new Error('stress-ng is missing: bash scripts/ensure-deps.sh --test installs it');
  const dir = mkdtempSync('/tmp/pgha-starve-');
  const pgha = (args: string[]) => execa(process.execPath, [join(repoRoot, 'bin', 'pgha.js'), ...args, '--dir', dir], { reject: false, all: true, cwd: repoRoot });
  const raw = localConfig({ ...LOCAL_DEFAULTS, dir, baseIp: o.baseIp, redisPort: 6961, dashboardPort: 8961, nodes: 3 }) as any;
  writeFileSync(join(dir, 'pgha.yaml'), stringify(raw), { mode: 0o600 });
  let failed = true;
  try {
    log(`local up in ${dir}`);
    const up = await pgha(['local', 'up']);
    if (up.exitCode !== 0) throw new Error(`local up failed:\n${up.all}`);
    const config = loadConfig({ dir }).config;
    const p = (await primaryOf(config))!;
    const n = config.nodes.find((x) => x.name === p)!;
    const c = new pg.Client({ host: n.host, port: config.postgres.port, user: 'postgres', password: config.postgres.rootPassword, database: 'repmgr', options: '-c search_path=repmgr,public' });
    await c.connect();
    await c.query('CREATE TABLE starve (id bigserial PRIMARY KEY, at timestamptz)');
    await c.end();
    log(`baseline: ${o.idleSeconds} s on a quiet machine`);
    const quiet = await measure('quiet', o.idleSeconds, dir, config, null);
    // --nice below 0: the load outranks the cluster's processes (a busy machine whose other work comes first)
    const stress = ['nice', '-n', String(o.nice), 'stress-ng', '--cpu', String(o.cpu), '--timeout', `${o.seconds}s`, '--quiet'];
    const name = `${o.nice ? `nice ${o.nice} ` : ''}stress-ng --cpu ${o.cpu}`;
    log(`load: ${o.seconds} s of ${name}`);
    const loaded = await measure(name, o.seconds, dir, config, () => execa(stress[0], stress.slice(1), { reject: false }));
    const ms = (xs: number[]) => (xs.length ? `${median(xs)} / ${Math.max(...xs)}` : '-');
    console.log('\n| window | seconds | fences | promotions | watchdog holds | detector promotions | detector waits on a silent primary | inserts ok | insert errors | insert ms median / max |\n|---|---|---|---|---|---|---|---|---|---|');
    for (const w of [quiet, loaded]) console.log(`| ${w.name} | ${w.seconds} | ${w.fences} | ${w.promotions} | ${w.holds} | ${w.detectorPromotions} | ${w.detectorWaits} | ${w.inserts.length} | ${w.insertErrors} | ${ms(w.inserts)} |`);
    const ratio = loaded.inserts.length && quiet.inserts.length ? median(loaded.inserts) / median(quiet.inserts) : NaN;
    console.log(`\ninsert latency under load / quiet (median): ${ratio.toFixed(2)}×`);
    failed = loaded.fences + loaded.promotions + loaded.detectorPromotions > 0;
    console.log(failed ? 'FAILED: the load alone fenced or failed over' : 'held: no fence and no promotion caused by CPU starvation');
  } finally {
    await pgha(['local', 'down']);
    if (!failed) rmSync(dir, { recursive: true, force: true });
    else console.log(`state kept in ${dir}`);
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
