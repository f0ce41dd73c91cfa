// repmgrd runs its queries with no timeout of its own. A node whose processes are frozen while its
// kernel runs (SIGSTOP, `podman pause`, backends stuck on a hung disk) accepts the query and ACKs
// every TCP packet, so neither libpq's keepalives nor tcp_user_timeout (render.ts, CUT_DETECTION)
// ever end the wait: a standby's repmgrd that sent its per-second `pg_is_in_recovery()` to the
// primary just as it froze waits for as long as the freeze lasts. It then never notices the failure,
// and when it is the election's candidate its siblings wait for it too: no failover at all. Seen in
// the frozen-primary test (quorum.test.ts). The node worker ends such a wait from outside: repmgrd's
// own connections to a node that has not answered pgha's probes for UNSTICK_AFTER_MS are destroyed
// (`ss -K`), and repmgrd carries on as with a lost connection: reconnect attempts, then its election.

/**
 * How long a node must leave pgha's probes unanswered, counted from the first unanswered probe's
 * sending, before repmgrd's connections to it are destroyed (ms): as long as repmgrd's own ping gives
 * a node (connect_timeout). Destroying them when the node is only slow costs repmgrd a reconnect: it
 * pings the node again and fails over only if that fails too, as it would have by itself.
 */
export const UNSTICK_AFTER_MS = 2000;

/** Per node: since when its probes have gone unanswered (ms); absent or null while it answers. */
export type SilenceState = Record<string, number | null>;

/**
 * One round of probes (pure), sent at `sentAt` and ended at `now` (ms): `answered` says, for each node
 * probed, whether it answered. Returns the next state and the nodes silent for at least `afterMs`
 * (each returned on every round while it lasts: destroying repmgrd's connections again is harmless,
 * and new ones may have hung meanwhile).
 */
export function silenceStep(state: SilenceState, answered: Record<string, boolean>, sentAt: number, now: number, afterMs = UNSTICK_AFTER_MS): { state: SilenceState; silent: string[] } {
  const next: SilenceState = {};
  const silent: string[] = [];
  for (const [node, ok] of Object.entries(answered)) {
    const since = ok ? null : (state[node] ?? sentAt);
    next[node] = since;
    if (since !== null && now - since >= afterMs) silent.push(node);
  }
  return { state: next, silent };
}

/**
 * The local ports of process `pid`'s established TCP connections in `ss -tnpH state established`
 * output (pure). Lines look like `0 0 127.0.0.1:58444 127.0.61.12:5432 users:(("repmgrd",pid=21399,fd=7))`.
 */
export function socketsOfPid(ssOutput: string, pid: number): number[] {
  const ports: number[] = [];
  for (const line of ssOutput.split('\n')) {
    if (!new RegExp(`[(,]pid=${pid},`).test(line)) continue;
    const local = line.trim().split(/\s+/)[2];
    const port = Number(local?.slice(local.lastIndexOf(':') + 1));
    if (Number.isInteger(port) && port > 0) ports.push(port);
  }
  return ports;
}
