// What the nemesis runs share (npm run chaos, npm run chaos:steps): the recorded workload (unique-key
// inserts and bank transfers, every acknowledged write kept), clients with deadlines, and what a
// healed cluster is (one primary, every other node streaming from it).
import pg from 'pg';
import type { ClusterConfig } from '../../src/config/schema.js';
import { writablePrimaries } from '../stream.js';
import type { Ack } from './check.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const log = (s: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 23)}] ${s}`);

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${what}`);
    await sleep(everyMs);
  }
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

export const drop = (c: pg.Client | undefined) => {
  (c as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream?.destroy();
  c?.end().catch(() => {});
};

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
        drop(c);
        c = undefined;
        await sleep(100);
      }
      await sleep(20);
    }
    drop(c);
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

