// Clients of the compose deployment.
// - Writers, run inside the engine's namespace as an application would be: a numbered row inserted
//   every 100 ms through a connection string (HAProxy's write port, or libpq's multi-host
//   `target_session_attrs=read-write`), a new connection each time, every try reported. Their
//   acknowledged rows are checked against the primary afterwards; the longest gap between two
//   acknowledged writes is the write downtime that client saw.
// - Write samplers, one beside each node (inside its container) inserting into split_probe on that
//   node's own PostgreSQL every 200 ms (kept connection, reopened after an error), and the moments two
//   nodes took writes: a write taken on the cut-off side is seen from that side (the compose test's
//   cut, the cut nemesis in bench/chaos/cut.ts).
import type { ResultPromise } from 'execa';
import type { Engine } from './podman.js';

/** Each JSON line a child process prints on stdout, parsed, to `push`. */
function readJsonLines<T>(proc: ResultPromise, push: (x: T) => void): void {
  let rest = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop()!;
    for (const line of lines) if (line.trim()) push(JSON.parse(line));
  });
  proc.catch(() => {});
}


const WRITER = `
const { execFile } = require('node:child_process');
const { PSQL, CONN, CLIENT } = process.env;
let k = 0;
(async () => {
  for (;;) {
    const t = Date.now();
    k++;
    const sql = "INSERT INTO downtime (client, k) VALUES ('" + CLIENT + "', " + k + ")";
    const ok = await new Promise((done) => execFile(PSQL, ['-Atq', CONN, '-c', sql], { timeout: 3000 }, (err) => done(!err)));
    console.log(JSON.stringify({ t, k, ok }));
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - t))));
  }
})();
`;

export interface Try {
  t: number;
  k: number;
  ok: boolean;
}

/** The table the writers insert into (create it on the primary once). */
export const DOWNTIME_TABLE = 'CREATE TABLE IF NOT EXISTS downtime (client text, k int, at timestamptz DEFAULT clock_timestamp(), PRIMARY KEY (client, k))';

/**
 * A writer named `client` through libpq connection string `conn` (no password in it: PGPASSWORD is
 * passed in the environment), started in the engine's namespace with this machine's psql.
 */
export function startWriter(engine: Engine, client: string, conn: string, password: string, psql = '/usr/lib/postgresql/15/bin/psql') {
  const tries: Try[] = [];
  const proc = engine.inNetns(process.execPath, ['-e', WRITER], {
    env: { PSQL: psql, CONN: conn, CLIENT: client, PGPASSWORD: password, PGCONNECT_TIMEOUT: '1' },
    buffer: false,
  });
  readJsonLines<Try>(proc, (x) => tries.push(x));
  return {
    client,
    tries,
    acked: () => tries.filter((x) => x.ok).map((x) => x.k),
    stop: () => proc.kill('SIGKILL'),
  };
}

/** The longest time between two acknowledged writes that straddle `from` (ms; pure). Null when none came after. */
export function writeDowntime(tries: Try[], from: number): number | null {
  const oks = tries.filter((x) => x.ok).map((x) => x.t);
  const before = oks.filter((t) => t <= from).at(-1);
  const after = oks.find((t) => t > from);
  if (after === undefined) return null;
  let gap = after - (before ?? from);
  // a second outage after the first write came back (a retry that failed again) counts too
  for (let i = oks.indexOf(after) + 1; i < oks.length; i++) gap = Math.max(gap, oks[i] - oks[i - 1]);
  return gap;
}

const SAMPLER = `
const pg = require('pg');
const { NODE, PGPASSWORD, SOCKET } = process.env;
let client;
const open = async () => {
  // SOCKET: the node's unix socket folder, for a sampler inside its container (a cut takes its address away)
  const c = new pg.Client({ host: SOCKET || NODE, port: 5432, user: 'repmgr', password: PGPASSWORD, database: 'repmgr', connectionTimeoutMillis: 150, query_timeout: 150 });
  c.on('error', () => {});
  await c.connect();
  return c;
};
console.log(JSON.stringify({ pid: process.pid }));
(async () => {
  for (;;) {
    const t = Date.now();
    try {
      client ??= await open();
      await client.query('INSERT INTO split_probe (node) VALUES ($1)', [NODE]);
      console.log(JSON.stringify({ t, ok: true }));
    } catch (err) {
      console.log(JSON.stringify({ t, ok: false, why: err.code ?? err.message }));
      client?.end().catch(() => {});
      client = undefined;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 200 - (Date.now() - t))));
  }
})();
`;

export interface Sample {
  t: number;
  ok: boolean;
  why?: string;
}

/**
 * A write sampler of `node` started by `start` (which runs SAMPLER_SCRIPT with node -e beside the
 * node: in its container, or in its namespace) with env NODE and PGPASSWORD; needs the table
 * split_probe (node text). Killed by stop().
 */
export function writeSampler(node: string, start: (script: string, env: Record<string, string>) => ResultPromise, password: string, killInside?: (pid: number) => void) {
  const samples: Sample[] = [];
  let inside = 0;
  const proc = start(SAMPLER, { NODE: node, PGPASSWORD: password });
  // its first line is its pid where it runs: `stop` ends it there too
  readJsonLines<Sample & { pid?: number }>(proc, (x) => (x.pid ? (inside = x.pid) : samples.push(x)));
  return {
    node,
    samples,
    stop: () => {
      proc.kill('SIGKILL');
      if (inside && killInside) killInside(inside);
    },
  };
}

/** Moments when two nodes took writes: a node counts as writable from a write it acknowledged until its next failed try (pure). */
export function twoWritableMoments(samplers: { node: string; samples: Sample[] }[]): { t: number; nodes: string[] }[] {
  const all = samplers.flatMap((x) => x.samples.map((s) => ({ ...s, node: x.node }))).sort((a, b) => a.t - b.t);
  const writable = new Map<string, boolean>();
  const out: { t: number; nodes: string[] }[] = [];
  for (const s of all) {
    writable.set(s.node, s.ok);
    const now = [...writable].filter(([, w]) => w).map(([n]) => n);
    if (now.length > 1) out.push({ t: s.t, nodes: now });
  }
  return out;
}
