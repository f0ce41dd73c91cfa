// The workload side of the network-cut nemesis (bench/chaos/cut.ts), run inside a client container
// on the compose network with the compose cluster's PGHA_* environment: the recorded workload of `npm run chaos`
// (inserts from a client following the primary and one pinned to pg1's address, bank transfers),
// and answers to the runner, one JSON line each, to one command per line on stdin:
//   writable → {"writable": [nodes that take writes, as seen from here]}
//   primary  → {"primary": the primary when the cluster is whole (every other node streams from it), else null}
//   check    → writers stopped, then {"report": {...}} once the cluster is whole (or it gave up), and exit
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config/load.js';
import { writablePrimaries } from '../stream.js';
import { finalChecks, query, startWorkload, until, wholeCluster } from './workload.js';

const config = loadConfig({}, process.env).config;
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const first = await until('a whole cluster', () => wholeCluster(config), 600_000, 1000);
// the samplers' table (test/engine/clients.ts)
await query(config, first, 'CREATE TABLE IF NOT EXISTS split_probe (node text, at timestamptz DEFAULT clock_timestamp())');
const workload = await startWorkload(config, first);
say({ ready: first });

async function check(healSeconds: number) {
  await workload.stop();
  const primary = await until('a whole cluster for the final checks', () => wholeCluster(config), healSeconds * 1000, 500).catch(() => undefined);
  if (!primary) return { healed: false, acked: workload.acked.length };
  const c = await finalChecks(config, primary, workload.acked);
  return {
    healed: true,
    primary,
    acked: workload.acked.length,
    lost: c.lost.length,
    lostFrom: [...new Set(c.lost.map((l) => l.node))],
    transfers: workload.bank.transfers,
    bankTotal: c.bankTotal,
    interleaved: c.interleaved.length,
    divergence: c.divergence,
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
