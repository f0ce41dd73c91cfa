// Client-side probes shared by benchmarks and tests: who accepts writes, and a steady insert stream.
import pg from 'pg';
import { sleep } from '../src/wait.js';
import type { ClusterConfig } from '../src/config/schema.js';

/** The nodes that answer pg_is_in_recovery() = false (more than one is a split brain). */
export async function writablePrimaries(config: ClusterConfig): Promise<string[]> {
  const out: string[] = [];
  await Promise.all(
    config.nodes.map(async (n) => {
      const c = new pg.Client({ host: n.host, port: config.postgres.port, user: 'repmgr', password: config.repmgr.password, database: 'repmgr', connectionTimeoutMillis: 500 });
      c.on('error', () => {});
      try {
        await c.connect();
        const r = await c.query('SELECT pg_is_in_recovery() AS r');
        if (r.rows[0].r === false) out.push(n.name);
      } catch {
        /* down or unreachable */
      } finally {
        await c.end().catch(() => {});
      }
    }),
  );
  return out.sort();
}

/** Samples every node every `everyMs` and remembers each moment more than one accepted writes. */
export function splitBrainSampler(config: ClusterConfig, everyMs = 200) {
  const twoPrimaryMoments: { at: number; nodes: string[] }[] = [];
  const seen: Record<string, number> = {};
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const w = await writablePrimaries(config);
      samples++;
      for (const n of w) seen[n] = (seen[n] ?? 0) + 1;
      if (w.length > 1) twoPrimaryMoments.push({ at: Date.now(), nodes: w });
      await sleep(everyMs);
    }
  })();
  return {
    twoPrimaryMoments,
    /** How many samples saw each node writable. */
    seen,
    /** How many samples were taken so far. */
    get samples() {
      return samples;
    },
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

/**
 * A client inserting increasing keys into `stream` on whichever node is the writable primary,
 * recording every acknowledged key with the time and node.
 */
export function insertStream(config: ClusterConfig) {
  const acked: { k: number; at: number; node: string }[] = [];
  let stopped = false;
  let client: pg.Client | undefined;
  let node = '';
  let k = 0;
  const connect = async () => {
    for (const n of config.nodes) {
      // as a client would: not as repmgr, whose own writes skip the quorum (synchronous_commit = local);
      // repmgr's search_path, where the callers' tables are (repmgr creates them in its own schema)
      const c = new pg.Client({
        host: n.host,
        port: config.postgres.port,
        user: 'postgres',
        password: config.postgres.rootPassword,
        database: 'repmgr',
        options: '-c search_path=repmgr,public',
        connectionTimeoutMillis: 500,
        query_timeout: 2000,
      });
      c.on('error', () => {});
      try {
        await c.connect();
        if ((await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r === false) {
          node = n.name;
          return c;
        }
      } catch {
        /* next */
      }
      await c.end().catch(() => {});
    }
    return undefined;
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        client ??= await connect();
        if (!client) {
          await sleep(50);
          continue;
        }
        k++;
        await client.query('INSERT INTO stream (k) VALUES ($1)', [k]);
        acked.push({ k, at: Date.now(), node });
      } catch {
        await client?.end().catch(() => {});
        client = undefined;
        await sleep(50);
      }
    }
    await client?.end().catch(() => {});
  })();
  return {
    acked,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** The longest gap (ms) between consecutive acknowledged inserts from index `from` on: the write downtime a client saw. */
export function longestAckGap(acked: { at: number }[], from = 0): number {
  let gap = 0;
  for (let i = Math.max(1, from + 1); i < acked.length; i++) gap = Math.max(gap, acked[i]!.at - acked[i - 1]!.at);
  return gap;
}
