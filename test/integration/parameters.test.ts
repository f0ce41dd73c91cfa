// Destructive: PostgreSQL parameters from pgha.yaml rolled out by `pgha config apply` on a 3-node
// cluster: refused before anything is touched, a reload parameter without a restart, a postmaster
// parameter by a rolling restart with the write downtime measured by an insert stream.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { nodePaths } from '../../src/config/paths.js';
import { postmasterStatus } from '../../src/postgres/actions.js';
import { PARAMETERS_CONF } from '../../src/postgres/parameters.js';
import { cli, insertStream, longestAckGap, splitBrainSampler, sqlTo, testCluster, waitFor, writablePrimaries, type TestCluster, streamsFrom as streamsFromOf } from './harness.js';

let tc: TestCluster;
const cfg = () => tc.config();
const names = () => cfg().nodes.map((n) => n.name);

/** Set postgres.parameters in the cluster's pgha.yaml (what a DBA edits). */
function setParameters(parameters: Record<string, unknown>) {
  const file = join(tc.dir, 'pgha.yaml');
  const raw = parse(readFileSync(file, 'utf8'));
  raw.postgres = { ...raw.postgres, parameters };
  writeFileSync(file, stringify(raw), { mode: 0o600 });
}
const pids = () => names().map((n) => postmasterStatus(nodePaths(cfg(), n).dataDir)?.pid);
const paramFiles = () => names().map((n) => readFileSync(join(nodePaths(cfg(), n).dataDir, PARAMETERS_CONF), 'utf8'));
async function show(node: string, name: string): Promise<string> {
  const c = await sqlTo(cfg(), node);
  try {
    return (await c.query(`SELECT current_setting($1) AS v`, [name])).rows[0].v;
  } finally {
    await c.end();
  }
}
const streamsFrom = (node: string) => streamsFromOf(cfg(), node);

beforeAll(async () => {
  tc = await testCluster('parameters', '127.0.31.11');
  const up = await cli(['local', 'up', ...tc.args]);
  expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
  const c = await sqlTo(cfg(), 'node1');
  await c.query('CREATE TABLE stream (k bigint PRIMARY KEY, at timestamptz DEFAULT now())');
  await c.end();
}, 600_000);

afterAll(async () => {
  await tc?.destroy();
}, 300_000);

describe('pgha config apply', () => {
  it('a parameter PostgreSQL would refuse, or one pgha owns: exit 2 naming the field and the value, and no node touched', async () => {
    const before = { pids: pids(), files: paramFiles() };
    setParameters({ work_mem: 'lots', shared_bufers: '1GB', max_connections: 1_000_000 });
    const bad = await cli(['config', 'apply', '--dir', tc.dir]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        'postgres.parameters.work_mem: must be an integer with an optional unit (the default unit is kB) (got "lots")',
        'postgres.parameters.shared_bufers: not a PostgreSQL 15 parameter (got "1GB")',
        'postgres.parameters.max_connections: above the maximum 262143 (got 1000000)',
      ]),
    );
    // config check says the same, from the same catalogue
    const check = await cli(['config', 'check', '--dir', tc.dir]);
    expect(check.exitCode).toBe(2);
    expect(check.stderr).toContain('postgres.parameters.shared_bufers: not a PostgreSQL 15 parameter (got "1GB")');
    setParameters({ wal_level: 'logical' });
    const owned = await cli(['config', 'apply', '--dir', tc.dir]);
    expect(owned.exitCode).toBe(2);
    expect(owned.all).toContain('postgres.parameters.wal_level: pgha sets it to replica: streaming replication, barman and pg_rewind need it; remove it from postgres.parameters (got "logical")');
    setParameters({});
    expect({ pids: pids(), files: paramFiles() }).toEqual(before);
  });

  it('a reload parameter (work_mem, log_min_duration_statement): on every node, no PostgreSQL restarted', async () => {
    const before = pids();
    setParameters({ work_mem: '16MB', log_min_duration_statement: '250ms' });
    const r = await cli(['config', 'apply', '--dir', tc.dir]);
    expect({ code: r.exitCode, out: r.all }).toMatchObject({ code: 0, out: expect.stringContaining('none needs a restart: a reload on every node') });
    expect(r.stdout).not.toMatch(/stop-postgres|decide-and-start|promote/);
    for (const n of names()) {
      await waitFor(`${n} reads the new values`, async () => (await show(n, 'work_mem')) === '16MB' && (await show(n, 'log_min_duration_statement')) === '250ms', 10_000, 100);
    }
    expect(pids()).toEqual(before);
  });

  it('a postmaster parameter (shared_buffers): pending restart shown, then each standby restarted in turn and the primary through a switchover and back, writes going on; no acknowledged insert lost, never two primaries', async () => {
    const [primary] = await writablePrimaries(cfg());
    const before = pids();
    setParameters({ work_mem: '16MB', log_min_duration_statement: '250ms', shared_buffers: '256MB' });
    const sampler = splitBrainSampler(cfg());
    const stream = insertStream(cfg());
    await waitFor('inserts', async () => stream.acked.length > 50, 20_000);
    const from = stream.acked.length - 1;
    const r = await cli(['config', 'apply', '--dir', tc.dir], { timeoutMs: 900_000 });
    expect({ code: r.exitCode, out: r.all }).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('shared_buffers needs a restart: each standby in turn, then the primary through a switchover and back (shared_buffers 16384 (8kB) → 256MB)');
    // the write step reloads: each node said shared_buffers waits for its restart, which the flow then made
    expect(r.stdout).toMatch(/pending restart after the reload \(restarted by this flow\): .*shared_buffers/);
    const last = stream.acked.length;
    await waitFor('inserts after', async () => stream.acked.length > last + 50, 60_000);
    await stream.stop();
    await sampler.stop();
    const gap = longestAckGap(stream.acked, from);
    console.log(`config apply (postmaster parameter): longest write gap ${(gap / 1000).toFixed(2)} s over two switchovers; ${stream.acked.length - from} inserts acknowledged meanwhile`);
    expect(sampler.twoPrimaryMoments).toEqual([]);
    // every node restarted, on the new value, and the primary is the one it was
    expect(pids().every((pid, i) => pid !== undefined && pid !== before[i])).toBe(true);
    for (const n of names()) expect(await show(n, 'shared_buffers')).toBe('256MB');
    expect(await writablePrimaries(cfg())).toEqual([primary]);
    for (const n of names().filter((x) => x !== primary)) await waitFor(`${n} streams from ${primary}`, async () => (await streamsFrom(n)) === primary, 30_000);
    const c = await sqlTo(cfg(), primary!);
    const present = new Set((await c.query('SELECT k FROM stream')).rows.map((x) => Number(x.k)));
    await c.end();
    expect(stream.acked.filter((a) => !present.has(a.k))).toEqual([]);
    const status = JSON.parse((await cli(['status', '--json', '--dir', tc.dir])).stdout);
    expect(status.nodes.map((n: { pendingRestart: string[] }) => n.pendingRestart)).toEqual([[], [], []]);
    expect(status.automaticFailover).toMatchObject({ paused: false });
  });

  it('pgha status shows a parameter waiting for a restart on the node it waits on', async () => {
    // the file as an apply's first step leaves it, before the restarts
    const node = names().find((n) => n !== 'node1')!;
    const file = join(nodePaths(cfg(), node).dataDir, PARAMETERS_CONF);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/shared_buffers = '256MB'/, "shared_buffers = '128MB'"));
    const c = await sqlTo(cfg(), node);
    await c.query('SELECT pg_reload_conf()');
    await c.end();
    const status = await waitFor('pending restart in status', async () => {
      const s = JSON.parse((await cli(['status', '--json', '--dir', tc.dir])).stdout);
      return s.nodes.find((n: { name: string; pendingRestart: string[] }) => n.name === node && n.pendingRestart.includes('shared_buffers')) ? s : undefined;
    }, 20_000, 500);
    expect(status.nodes.filter((n: { pendingRestart: string[] }) => n.pendingRestart.length).map((n: { name: string }) => n.name)).toEqual([node]);
    const table = await cli(['status', '--dir', tc.dir]);
    expect(table.stdout).toContain(`${node}: pending restart: shared_buffers`);
  });
});
