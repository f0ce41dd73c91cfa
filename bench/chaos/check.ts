// The nemesis suite's checkers and its seeded choices (pure): what counts as a lost write, a broken
// bank, nodes that did not converge, and the report of what each nemesis did.

/** One acknowledged write: its key, the node that acknowledged it, when (ms), which client. */
export interface Ack {
  key: number;
  node: string;
  at: number;
  client: string;
}

/** Acknowledged keys that the final primary does not have (each one is a lost commit). */
export function lostAcks(acked: Ack[], present: Set<number>): Ack[] {
  return acked.filter((a) => !present.has(a.key));
}

/**
 * Moments when two nodes acknowledged writes: an ack from node B between two acks from node A less
 * than `windowMs` apart (A was still acknowledging while B already was). With one writable primary at
 * a time the acks' nodes change once per failover and never interleave.
 */
export function interleavedAcks(acked: Ack[], windowMs = 1000): { at: number; nodes: [string, string] }[] {
  const sorted = [...acked].sort((a, b) => a.at - b.at);
  const out: { at: number; nodes: [string, string] }[] = [];
  const lastBy = new Map<string, number>();
  let prev: Ack | undefined;
  for (const a of sorted) {
    if (prev && prev.node !== a.node) {
      const before = lastBy.get(a.node);
      // a came back to a node it had left less than windowMs ago, with another node in between
      if (before !== undefined && a.at - before < windowMs) out.push({ at: a.at, nodes: [prev.node, a.node] });
    }
    lastBy.set(a.node, a.at);
    prev = a;
  }
  return out;
}

/** Why the per-table checksums of the nodes differ, or null when every node has the same data. */
export function divergence(checksums: Record<string, Record<string, string | null>>): string | null {
  const nodes = Object.keys(checksums);
  const problems: string[] = [];
  const tables = new Set(nodes.flatMap((n) => Object.keys(checksums[n])));
  for (const t of tables) {
    const values = new Map<string, string[]>();
    for (const n of nodes) {
      const v = checksums[n][t] ?? '(unreadable)';
      values.set(v, [...(values.get(v) ?? []), n]);
    }
    if (values.size > 1) problems.push(`${t}: ${[...values.values()].map((ns) => ns.join('+')).join(' ≠ ')}`);
  }
  return problems.length ? problems.join('; ') : null;
}

/** mulberry32: a small seeded PRNG, so a run with the same seed picks the same nemeses and targets. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface NemesisEvent {
  nemesis: string;
  target: string;
  startedAt: number;
  /** From the fault's end until the cluster was whole again (one primary, every standby streaming from it); null: it did not heal in time. */
  healedMs: number | null;
  note?: string;
}

/** Per nemesis: how many ran, healed, and the heal times' median and max (ms). */
export function perNemesis(events: NemesisEvent[]): { nemesis: string; runs: number; healed: number; medianHealMs: number | null; maxHealMs: number | null }[] {
  const names = [...new Set(events.map((e) => e.nemesis))].sort();
  return names.map((nemesis) => {
    const es = events.filter((e) => e.nemesis === nemesis);
    const times = es.map((e) => e.healedMs).filter((t): t is number => t !== null).sort((a, b) => a - b);
    const mid = Math.floor(times.length / 2);
    return {
      nemesis,
      runs: es.length,
      healed: times.length,
      medianHealMs: times.length ? (times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2) : null,
      maxHealMs: times.length ? times[times.length - 1] : null,
    };
  });
}
