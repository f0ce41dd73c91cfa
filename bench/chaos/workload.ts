// What the nemesis runs share (npm run chaos, npm run chaos:steps): the recorded workload (unique-key
// inserts and bank transfers, every acknowledged write kept), clients with deadlines, and what a
// healed cluster is (one primary, every other node streaming from it).
import pg from 'pg';
import { Command } from 'commander';
import { wholeNumber } from '../../cli/args.js';
import { pollUntil } from '../../src/wait.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { dropClient } from '../../src/postgres/actions.js';
import { writablePrimaries } from '../stream.js';
import { divergence, interleavedAcks, lostAcks, type Ack } from './check.js';

import { sleep } from '../../src/wait.js';
export { sleep };

/** A nemesis script's command line (commander): --seed and --heal-seconds, which every one takes, then its own. */
export function nemesisCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option('--seed <n>', 'random seed (a run is repeated by its seed)', wholeNumber('--seed'), Date.now() % 100000)
    .option('--heal-seconds <n>', 'how long the cluster may take to come whole after the faults', wholeNumber('--heal-seconds', 1), 180);
}

export const log = (s: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 23)}] ${s}`);

/** pollUntil for the nemesis runs: a check that throws counts as not yet (nodes come and go under faults). */
export function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  return pollUntil(what, () => fn().then((v) => v || undefined, () => undefined), { timeoutMs, everyMs, onTimeout: () => new Error(`timed out after ${timeoutMs / 1000} s: ${what}`) });
}

export function client(config: ClusterConfig, node: string): pg.Client {
  const n = config.nodes.find((x) => x.name === node)!;
  const c = new pg.Client({ host: n.host, port: config.postgres.port, user: 'postgres', password: config.postgres.rootPassword, database: 'postgres', connectionTimeoutMillis: 1000 });
  c.on('error', () => {});
  return c;
}

export async function query<T = any>(config: ClusterConfig, node: string, sql: string): Promise<T[]> {
  const c = client(config, node);
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end().catch(() => {});
  }
}

/** A statement with a deadline: a commit waiting for a quorum that never comes is not acknowledged. */
export async function bounded(c: pg.Client, sql: string, params: unknown[], ms = 3000) {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([c.query(sql, params), new Promise<never>((_, no) => (t = setTimeout(() => no(new Error(`no answer in ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}


/** A client writing in a loop; `pinned`: only ever to that node's address, else to whichever node is writable. */
export function writer(config: ClusterConfig, name: string, pinned: string | null, nextKey: () => number, acked: Ack[], bank?: { transfers: number }) {
  let stop = false;
  const loop = (async () => {
    let c: pg.Client | undefined;
    let node = '';
    while (!stop) {
      try {
        if (!c) {
          const targets = pinned ? [pinned] : (await writablePrimaries(config));
          if (!targets.length) throw new Error('no writable node');
          node = targets[0];
          c = client(config, node);
          await c.connect();
        }
        if (bank) {
          const from = 1 + Math.floor(Math.random() * 10);
          const to = 1 + ((from + Math.floor(Math.random() * 9)) % 10);
          await bounded(c, 'BEGIN', []);
          await bounded(c, 'UPDATE chaos_bank SET balance = balance - 7 WHERE id = $1', [from]);
          await bounded(c, 'UPDATE chaos_bank SET balance = balance + 7 WHERE id = $1', [to]);
          await bounded(c, 'COMMIT', []);
          bank.transfers++;
        } else {
          const key = nextKey();
          await bounded(c, 'INSERT INTO chaos_acked (k, client) VALUES ($1, $2)', [key, name]);
          acked.push({ key, node, at: Date.now(), client: name });
        }
      } catch {
        dropClient(c);
        c = undefined;
        await sleep(100);
      }
      await sleep(20);
    }
    dropClient(c);
  })();
  return { stop: async () => { stop = true; await loop; } };
}

/** One primary, every other node streaming from it: the primary's name, or undefined. */
export async function wholeCluster(config: ClusterConfig): Promise<string | undefined> {
  const w = await writablePrimaries(config);
  if (w.length !== 1) return undefined;
  const rows = await query<{ application_name: string }>(config, w[0], `SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'`);
  const streaming = new Set(rows.map((r) => r.application_name));
  return config.nodes.every((n) => n.name === w[0] || streaming.has(n.name)) ? w[0] : undefined;
}


/**
 * The recorded workload on a cluster whose primary is `primary`: its tables (chaos_acked, chaos_bank
 * with 10 accounts of 1000), then a client following the primary, one pinned to the first node's
 * address and one doing bank transfers. Every acknowledged insert lands in `acked`.
 */
export async function startWorkload(config: ClusterConfig, primary: string) {
  await query(config, primary, 'CREATE TABLE IF NOT EXISTS chaos_acked (k bigint PRIMARY KEY, client text)');
  await query(config, primary, 'CREATE TABLE IF NOT EXISTS chaos_bank (id int PRIMARY KEY, balance bigint)');
  await query(config, primary, 'INSERT INTO chaos_bank SELECT g, 1000 FROM generate_series(1, 10) g ON CONFLICT DO NOTHING');
  const acked: Ack[] = [];
  let key = 0;
  const next = () => ++key;
  const bank = { transfers: 0 };
  const pinned = config.nodes[0].name;
  const writers = [writer(config, 'follower', null, next, acked), writer(config, `pinned-${pinned}`, pinned, next, acked), writer(config, 'bank', null, next, acked, bank)];
  return { acked, bank, stop: async () => { for (const x of writers) await x.stop(); } };
}

/**
 * What the nemesis runs check at the end, on the whole cluster whose primary is `primary`: the
 * acknowledged inserts missing there, the bank's total, moments two nodes acknowledged in turn, and
 * (once every node replayed up to the primary's position, 60 s at most each) whether the nodes differ.
 */
export async function finalChecks(config: ClusterConfig, primary: string, acked: Ack[]) {
  const present = new Set((await query<{ k: string }>(config, primary, 'SELECT k FROM chaos_acked')).map((r) => Number(r.k)));
  const lost = lostAcks(acked, present);
  const bankTotal = Number((await query<{ t: string }>(config, primary, 'SELECT sum(balance) AS t FROM chaos_bank'))[0].t);
  const lsn = (await query<{ l: string }>(config, primary, 'SELECT pg_current_wal_lsn()::text AS l'))[0].l;
  const sums: Record<string, Record<string, string | null>> = {};
  for (const n of config.nodes) {
    await until(`${n.name} replays up to ${lsn}`, async () => n.name === primary || (await query<{ ok: boolean }>(config, n.name, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS ok`))[0].ok, 60_000).catch(() => undefined);
    sums[n.name] = {};
    for (const t of ['chaos_acked', 'chaos_bank']) sums[n.name][t] = await query<{ s: string }>(config, n.name, `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS s FROM ${t} t`).then((r) => r[0].s, () => null);
  }
  return { lost, bankTotal, interleaved: interleavedAcks(acked), divergence: divergence(sums) };
}
