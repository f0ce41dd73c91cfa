// The workload side of the network-cut nemesis (bench/chaos/cut.ts), run inside the bed's client
// namespace with the compose cluster's PGHA_* environment: the recorded workload of `npm run chaos`
// (inserts from a client following the primary and one pinned to pg1's address, bank transfers),
// and answers to the runner, one JSON line each, to one command per line on stdin:
//   writable → {"writable": [nodes that take writes, as seen from here]}
//   primary  → {"primary": the primary when the cluster is whole (every other node streams from it), else null}
//   check    → writers stopped, then {"report": {...}} once the cluster is whole (or it gave up), and exit
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config/load.js';
import { writablePrimaries } from '../stream.js';
import { divergence, interleavedAcks, lostAcks, type Ack } from './check.js';
import { query, until, wholeCluster, writer } from './workload.js';

const config = loadConfig(undefined, process.env).config;
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const first = await until('a whole cluster', () => wholeCluster(config), 600_000, 1000);
await query(config, first, 'CREATE TABLE IF NOT EXISTS chaos_acked (k bigint PRIMARY KEY, client text)');
await query(config, first, 'CREATE TABLE IF NOT EXISTS chaos_bank (id int PRIMARY KEY, balance bigint)');
await query(config, first, 'INSERT INTO chaos_bank SELECT g, 1000 FROM generate_series(1, 10) g ON CONFLICT DO NOTHING');
// the samplers' table (test/bed/samplers.ts)
await query(config, first, 'CREATE TABLE IF NOT EXISTS split_probe (node text, at timestamptz DEFAULT clock_timestamp())');
const acked: Ack[] = [];
let key = 0;
const next = () => ++key;
const bank = { transfers: 0 };
const pinned = config.nodes[0].name;
const writers = [writer(config, 'follower', null, next, acked), writer(config, `pinned-${pinned}`, pinned, next, acked), writer(config, 'bank', null, next, acked, bank)];
say({ ready: first });

async function check(healSeconds: number) {
  for (const w of writers) await w.stop();
  const primary = await until('a whole cluster for the final checks', () => wholeCluster(config), healSeconds * 1000, 500).catch(() => undefined);
  if (!primary) return { healed: false, acked: acked.length };
  const present = new Set((await query<{ k: string }>(config, primary, 'SELECT k FROM chaos_acked')).map((r) => Number(r.k)));
  const lost = lostAcks(acked, present);
  const total = Number((await query<{ t: string }>(config, primary, 'SELECT sum(balance) AS t FROM chaos_bank'))[0].t);
  const lsn = (await query<{ l: string }>(config, primary, 'SELECT pg_current_wal_lsn()::text AS l'))[0].l;
  const sums: Record<string, Record<string, string | null>> = {};
  for (const n of config.nodes) {
    await until(`${n.name} replays up to ${lsn}`, async () => n.name === primary || (await query<{ ok: boolean }>(config, n.name, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS ok`))[0].ok, 60_000).catch(() => undefined);
    sums[n.name] = {};
    for (const t of ['chaos_acked', 'chaos_bank']) sums[n.name][t] = await query<{ s: string }>(config, n.name, `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS s FROM ${t} t`).then((r) => r[0].s, () => null);
  }
  return {
    healed: true,
    primary,
    acked: acked.length,
    lost: lost.length,
    lostFrom: [...new Set(lost.map((l) => l.node))],
    transfers: bank.transfers,
    bankTotal: total,
    interleaved: interleavedAcks(acked).length,
    divergence: divergence(sums),
  };
}

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'writable') say({ writable: await writablePrimaries(config).catch(() => []) });
  else if (cmd === 'primary') say({ primary: (await wholeCluster(config).catch(() => undefined)) ?? null });
  else if (cmd === 'check') {
    say({ report: await check(Number(arg ?? 180)) });
    break;
  }
}
process.exit(0);
