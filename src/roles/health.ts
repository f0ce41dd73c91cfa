// The health checks' answers (pure), Patroni-style, for load balancers: /primary (/read-write) is
// 200 only on the writable primary that sees a majority of the cluster (a primary cut off from most
// of it may be replaced: it gets no writes), /replica only on a streaming standby (?lag=BYTES),
// /health whenever PostgreSQL answers. Anything else is 503 (or 404). workers/health.ts serves them.
import { answered, hasMajority, lagBytesOf, nodeOf, roleOf, type ClusterView } from './view.js';

/** "1048576", "16kB", "1MB", "2GB" -> bytes; null when it is not one (pure). */
export function parseLag(text: string): number | null {
  const m = /^(\d+)\s*(B|kB|KB|MB|GB)?$/.exec(text.trim());
  if (!m) return null;
  const unit = { B: 1, kB: 1024, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] ?? 'B']!;
  return Number(m[1]) * unit;
}


export interface HealthAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** The answer to a health check from what every node said just now (pure). */
export function healthAnswer(path: string, query: URLSearchParams, me: string, view: ClusterView): HealthAnswer {
  const n = nodeOf(view, me);
  const self = { role: roleOf(view, me), timeline: n.timeline ?? null, upstream: answered(n) ? (n.upstream ?? null) : null, lagBytes: lagBytesOf(view, me), error: n.error };
  const body: Record<string, unknown> = { node: me, role: self.role, timeline: self.timeline, upstream: self.upstream, lagBytes: self.lagBytes };
  const no = (reason: string): HealthAnswer => ({ status: 503, body: { ...body, reason } });
  const yes = (): HealthAnswer => ({ status: 200, body });
  switch (path) {
    case '/health':
      return answered(n) ? yes() : no(`PostgreSQL does not answer${self.error ? `: ${self.error}` : ''}`);
    case '/primary':
    case '/read-write': {
      if (self.role !== 'primary') return no(self.role === 'unknown' && answered(n) ? `${view.nodes.filter((x) => answered(x) && x.writable).length} nodes accept writes` : `not the primary (${self.role})`);
      // a primary cut off from most of the cluster may be replaced: send it no writes
      if (!hasMajority(view)) return no(`sees ${view.nodes.filter(answered).length} of ${view.nodes.length} nodes, not a majority`);
      return yes();
    }
    case '/replica': {
      if (self.role !== 'standby') return no(`not a standby (${self.role})`);
      if (!self.upstream) return no('not streaming from an upstream node');
      const lagParam = query.get('lag');
      if (lagParam !== null) {
        const limit = parseLag(lagParam);
        if (limit === null) return { status: 400, body: { ...body, reason: `lag=${lagParam}: give bytes, or a number with kB, MB or GB` } };
        if (self.lagBytes === null) return no('lag unknown: no primary answers');
        if (self.lagBytes > limit) return no(`lag ${self.lagBytes} bytes is over ${limit}`);
      }
      return yes();
    }
    default:
      return { status: 404, body: { reason: `no health check ${path}: /primary, /replica[?lag=BYTES], /health` } };
  }
}
