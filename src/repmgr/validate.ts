// repmgrd's failover_validation_command: before repmgrd promotes this node, ask every node of the
// cluster what it has and apply the promotion rule (src/roles/promotion.ts). Runs as the postgres OS
// user, which cannot read pgha.yaml: the node list comes on the command line, the repmgr role's
// password from the node's passfile (libpq's format, read with the pgpass module).
import pg from 'pg';
import pgPass from 'pgpass';
import { lsnToBytes, readProbe } from '../status.js';
import { decidePromotion, type NodeSeen, type PromotionDecision } from '../roles/promotion.js';

export interface ValidationTarget {
  /** The candidate (this node). */
  node: string;
  /** Every node of the cluster, the candidate included. */
  nodes: { name: string; host: string }[];
  port: number;
  passfile: string;
  /** How long one node may take to answer (ms): a node cut off the network counts as not answering. */
  timeoutMs: number;
}

/** "node1=127.0.0.11,node2=127.0.0.12" (the hook's --nodes) → list; throws on a malformed entry. */
export function parseNodeList(s: string): { name: string; host: string }[] {
  return s.split(',').map((e) => {
    const m = /^([A-Za-z0-9_-]+)=(.+)$/.exec(e.trim());
    if (!m) throw new Error(`--nodes: "${e}" is not NAME=HOST`);
    return { name: m[1], host: m[2] };
  });
}

const passwordFrom = (passfile: string, host: string, port: number) =>
  new Promise<string | undefined>((resolve) => {
    process.env.PGPASSFILE = passfile;
    pgPass({ host, port, database: 'repmgr', user: 'repmgr' }, resolve);
  });

async function seen(t: ValidationTarget, n: { name: string; host: string }): Promise<NodeSeen> {
  const client = new pg.Client({
    host: n.host,
    port: t.port,
    user: 'repmgr',
    database: 'repmgr',
    password: await passwordFrom(t.passfile, n.host, t.port),
    connectionTimeoutMillis: t.timeoutMs,
    query_timeout: t.timeoutMs,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const p = await readProbe(client);
    return { name: n.name, reachable: true, writable: !p.recovery, timeline: p.timeline, lsn: lsnToBytes(p.receivedLsn) };
  } catch {
    return { name: n.name, reachable: false };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Read every node (in parallel, each within timeoutMs) and decide; never throws for a node that does not answer. */
export async function validatePromotion(t: ValidationTarget): Promise<PromotionDecision> {
  const nodes = await Promise.all(t.nodes.map((n) => seen(t, n)));
  return decidePromotion(t.nodes.length, t.node, nodes);
}
