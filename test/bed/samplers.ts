// Write samplers: one process beside a node (inside its container or its namespace) inserting into
// split_probe on that node's own PostgreSQL every 200 ms (kept connection, reopened after an error),
// and the moments two nodes took writes. Used by the compose tests' cut and by the cut nemesis
// (bench/chaos/cut.ts), so that a write taken on the cut-off side is seen from that side.
import type { ResultPromise } from 'execa';

const SAMPLER = `
const pg = require('pg');
const { NODE, PGPASSWORD } = process.env;
let client;
const open = async () => {
  const c = new pg.Client({ host: NODE, port: 5432, user: 'repmgr', password: PGPASSWORD, database: 'repmgr', connectionTimeoutMillis: 150, query_timeout: 150 });
  c.on('error', () => {});
  await c.connect();
  return c;
};
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
export function writeSampler(node: string, start: (script: string, env: Record<string, string>) => ResultPromise, password: string) {
  const samples: Sample[] = [];
  const proc = start(SAMPLER, { NODE: node, PGPASSWORD: password });
  let rest = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop()!;
    for (const line of lines) if (line.trim()) samples.push(JSON.parse(line));
  });
  proc.catch(() => {});
  return { node, samples, stop: () => proc.kill('SIGKILL') };
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
