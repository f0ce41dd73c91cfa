// The fencing watchdog and the failover detector in each node worker. Every fencing.checkEveryMs it asks
// its own PostgreSQL and each peer what they are (one kept connection each; a slow answer is waited
// for, a connection silent for 5 s is dropped). On a primary it hands what it saw to watchdogStep
// (src/roles/fence.ts) and acts on the answer: fence (stop PostgreSQL at once, then repmgrd) or rejoin
// (enqueue the node's restart flow). On a standby it hands it to decideFailover
// (src/roles/promotion.ts): when the primary is lost and this node is the one to promote, it claims
// the failover in Redis and starts the failover flow; repmgrd stays the backstop.
import type pg from 'pg';
import type { Logger } from 'winston';
import type { ClusterConfig, NodeConfig } from '../src/config/schema.js';
import { findNode, repmgrNodeId } from '../src/config/paths.js';
import { secretsOf } from '../src/config/load.js';
import { Runner } from '../src/exec/runner.js';
import { connectAs, dropClient, stopPostgres, type NodeContext } from '../src/postgres/actions.js';
import { stopRepmgrd } from '../src/repmgr/actions.js';
import { isRefusal, nodeViewOf, readProbe, type Probe } from '../src/probe.js';
import { initialWatchdogState, promotionWindowMs, watchdogStep, type Observation, type WatchdogAction } from '../src/roles/fence.js';
import { decideFailover, detectorSettings, type DetectorObservation } from '../src/roles/promotion.js';
import { recordClusterEvent } from '../src/events.js';
import { buildDetectedFailoverFlow, buildRestartFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';
import { claimFailover, FAILOVER_CLAIM_TTL_MS, releaseFailover } from '../src/flows/registry.js';
import { failoverHeldBy, within } from '../src/status.js';
import { quickRedisConnection } from '../src/redis.js';

/**
 * A kept connection to one node and its latest answer. A slow answer is waited for, not abandoned:
 * under CPU starvation a dropped connection costs a new connection and authentication, slower still,
 * and its late answer still says the node is there. Only a connection silent for stuckMs (a cut, a
 * frozen peer) is dropped, so that it reconnects once the node answers again.
 */
class NodeLink {
  /** When the last answered probe was sent. */
  answeredAt: number | null = null;
  last: Probe | null = null;
  /** The latest finished probe got an answer (false: refused, failed or dropped). */
  ok = false;
  /** When the first probe left unanswered since the latest answer was sent (one still out counts); null: the latest was answered. */
  silentSince: number | null = null;
  /** Since when every probe was refused (nothing listens there); null: the latest was not refused. */
  refusedSince: number | null = null;
  /** How long the latest answer took (ms). */
  latencyMs: number | null = null;
  private client: pg.Client | undefined;
  private busy = false;

  constructor(
    private readonly config: ClusterConfig,
    readonly node: NodeConfig,
    private readonly stuckMs: number,
  ) {}

  /** Start a probe unless one is still out. */
  poke(): void {
    if (this.busy) return;
    this.busy = true;
    void this.probe().finally(() => (this.busy = false));
  }

  private async probe(): Promise<void> {
    const sentAt = Date.now();
    this.silentSince ??= sentAt;
    let stuck: NodeJS.Timeout | undefined;
    try {
      const kept = this.client !== undefined;
      this.client ??= await connectAs(this.config, this.node, { user: 'repmgr', timeoutMs: this.stuckMs });
      const gaveUp = new Promise<never>((_, reject) => (stuck = setTimeout(() => reject(new Error('no answer')), this.stuckMs)));
      this.last = await Promise.race([
        readProbe(this.client).catch(async (err) => {
          if (!kept || isTimeout(err)) throw err;
          // the kept connection broke (the server ended it, or died): one new connection says at once
          // whether anything still listens there, rather than at the next check
          this.close();
          const fresh = await connectAs(this.config, this.node, { user: 'repmgr', timeoutMs: this.stuckMs });
          // the give-up may have fired meanwhile and a later probe taken over: this one keeps nothing
          if (this.client !== undefined || Date.now() - sentAt >= this.stuckMs) {
            dropClient(fresh);
            throw err;
          }
          this.client = fresh;
          return readProbe(fresh);
        }),
        gaveUp,
      ]);
      this.answeredAt = sentAt;
      this.latencyMs = Date.now() - sentAt;
      this.ok = true;
      this.silentSince = null;
      this.refusedSince = null;
    } catch (err) {
      this.ok = false;
      this.refusedSince = isRefusal(err) ? (this.refusedSince ?? sentAt) : null;
      // the server itself answered with an error (starting up after a crash, too many clients…): it is
      // there, not silent; only what the network gives up on counts as silence
      if (/^[0-9A-Z]{5}$/.test((err as { code?: string }).code ?? '')) this.silentSince = null;
      this.close();
    } finally {
      clearTimeout(stuck);
    }
  }

  /** Forget the last answer (PostgreSQL was just stopped: what it said before is stale). */
  forget(): void {
    this.ok = false;
    this.last = null;
  }

  close(): void {
    const c = this.client;
    this.client = undefined;
    // a cut link never answers end(): drop the socket
    dropClient(c);
  }
}

const isTimeout = (err: unknown) => /timeout/i.test((err as Error | null)?.message ?? '');

export interface FenceWatchdog {
  stop(): void;
}

/**
 * Start the watchdog (and, with repmgr.fastFailover and automatic failover, the failover detector) of
 * node `me`; null when fencing is off or there is no one to fence against.
 */
export function startFenceWatchdog(config: ClusterConfig, me: string, logger: Logger): FenceWatchdog | null {
  const { enabled, afterMs, checkEveryMs } = config.fencing;
  if (!enabled || config.nodes.length < 2) {
    logger.info(`fencing watchdog off (${enabled ? 'a single node' : 'fencing.enabled is false'})`);
    return null;
  }
  const node = findNode(config, me);
  // a connection that has not answered for the whole election window is cut or frozen
  const stuckMs = Math.max(afterMs, 5000);
  const self = new NodeLink(config, node, stuckMs);
  const peers = config.nodes.filter((n) => n.name !== me).map((n) => new NodeLink(config, n, stuckMs));
  const window = promotionWindowMs(config.repmgr);
  const settings = { afterMs, checkEveryMs, settleMs: window.latestMs, earliestPromotionMs: window.earliestMs };
  const nc: NodeContext = { config, node, run: new Runner(secretsOf(config), (l) => logger.info(l)), log: (l) => void logger.info(l) };
  let state = initialWatchdogState();
  let lastTick = Date.now();
  let steadySince = lastTick;
  let lastReason = '';
  let acting = false;
  const detecting = config.repmgr.fastFailover && config.repmgr.failover === 'automatic';
  const detector = detectorSettings(config);
  let lastDetected = '';
  /**
   * The lost primary whose failover was claimed (by this detector's flow or another claimant): decided
   * once, until a primary answers again (this node's own timeline moves while its promotion runs).
   */
  let claimed: { primary: string; at: number } | null = null;

  const event = (name: string) =>
    recordClusterEvent(config.redis, config.cluster, { nodeId: repmgrNodeId(config, me), event: name, success: true }).catch((err) => logger.warn(`event ${name} not recorded: ${err.message}`));

  const act = async (d: WatchdogAction) => {
    acting = true;
    try {
      if (d.action === 'fence') {
        logger.warn(`FENCING ${me}: ${d.reason}; stopping PostgreSQL now`);
        const started = Date.now();
        await stopPostgres(nc, 'immediate');
        self.forget();
        logger.warn(`fenced ${me}: PostgreSQL stopped in ${Date.now() - started} ms`);
        await stopRepmgrd(nc);
        // Redis may be across the cut: recorded when it answers, never in the way of the stop
        void event('pgha_fence');
      } else if (d.action === 'rejoin') {
        logger.info(`${me}: ${d.reason}`);
        await startFlow(config.redis, buildRestartFlow(config, me, `${config.cluster}-unfence-${me}-${Date.now()}`), 'restart');
        void event('pgha_fence_rejoin');
      }
    } catch (err) {
      logger.error(`fencing watchdog: ${d.action} failed: ${(err as Error).message}`);
      // still fenced: the next checks decide again when to rejoin (a failed stop is seen as writable and fenced again)
      if (d.action === 'rejoin') state = { ...state, fencedAt: Date.now(), majoritySince: null };
    } finally {
      acting = false;
    }
  };

  // the detector's own flag: a slow Redis must never hold up the fencing watchdog's checks
  let promoting = false;
  const sayDetected = (reason: string) => {
    // decisions that differ only by a count of milliseconds are the same decision
    const key = reason.replace(/\d+ ms/g, '# ms');
    if (key !== lastDetected) logger.info(`failover detector: ${reason}`);
    lastDetected = key;
  };
  const promote = async (o: DetectorObservation) => {
    promoting = true;
    // gives up at once on a Redis that does not answer: the detector then leaves the failover to repmgrd
    const connection = quickRedisConnection(config.redis, 2000);
    let claim: { timeline: number | null; flowId: string } | null = null;
    try {
      await connection.connect();
      // the holds live in Redis: a flow that restarts nodes (a restore, a planned restart) holds
      // failover while its restarted nodes have forgotten repmgr's pause; a completed flow's hold
      // (a restore ends without a resume step) no longer does, a failed one's still does
      const heldBy = await within(failoverHeldBy(connection, config.cluster), 2000, () => null);
      if (!heldBy) throw new Error('Redis did not answer within 2 s');
      const d = decideFailover({ ...o, heldBy }, detector);
      if (d.action !== 'promote') return sayDetected(d.reason);
      const flowId = `${config.cluster}-failover-${d.node}-from-${d.primary}-${Date.now()}`;
      const holder = await claimFailover(connection, config.cluster, d.timeline, flowId, FAILOVER_CLAIM_TTL_MS);
      if (holder !== flowId) {
        claimed = { primary: d.primary, at: Date.now() };
        logger.info(`failover detector: the failover of ${d.primary} is already claimed by ${holder}`);
        return;
      }
      claim = { timeline: d.timeline, flowId };
      logger.warn(`FAILOVER: ${d.reason}; starting flow ${flowId}`);
      const started = await within(startFlow(config.redis, buildDetectedFailoverFlow(config, { to: d.node, followers: d.followers, flowId, connectTimeoutMs: detector.freshMs }), 'failover').then(() => true), 5000, () => false);
      if (!started) throw new Error('the flow was not enqueued within 5 s');
      claimed = { primary: d.primary, at: Date.now() };
      claim = null;
      void event('pgha_failover_detected');
    } catch (err) {
      logger.error(`failover detector: could not start the failover (${(err as Error).message}); repmgrd stays the backstop`);
      // a claim whose flow never started would hold off repmgrd's election for its whole TTL
      if (claim) await releaseFailover(connection, config.cluster, claim.timeline, claim.flowId).catch(() => {});
    } finally {
      connection.disconnect();
      promoting = false;
    }
  };

  const tick = () => {
    const now = Date.now();
    // a late tick means this process did not run: what it holds is old, so it looks again before fencing
    if (now - lastTick > 2 * checkEveryMs) steadySince = now;
    lastTick = now;
    // a writable or fenced node hears from its peers to fence; a standby to detect a lost primary
    // (with the detector on). Each keeps asking them while its own answer is out (else slow own
    // answers would age the peers')
    const writable = self.last?.recovery === false;
    const standby = self.last?.recovery === true;
    for (const link of writable || state.fencedAt !== null || (detecting && standby) ? [self, ...peers] : [self]) link.poke();
    if (acting) return;
    const o: Observation = {
      now,
      steadySince,
      self: me,
      // the running view: each node's latest answer; this node's own only while its latest probe got one
      view: {
        nodes: [self, ...peers].map((l) => {
          if (l === self) return self.ok && self.last ? nodeViewOf(config.nodes, me, { probe: self.last }, self.answeredAt!) : { name: me, answeredAt: null };
          return l.last ? nodeViewOf(config.nodes, l.node.name, { probe: l.last }, l.answeredAt!) : { name: l.node.name, answeredAt: l.answeredAt };
        }),
      },
    };
    const { state: next, decision } = watchdogStep(state, o, settings);
    state = next;
    if (decision.reason !== lastReason) {
      logger.info(`fencing watchdog: ${decision.reason}`);
      lastReason = decision.reason;
    }
    if (decision.action !== 'none') return void act(decision);
    // decided again once the lost primary has answered since, or this node became the primary
    if (claimed && (writable || (peers.find((l) => l.node.name === claimed!.primary)?.answeredAt ?? 0) > claimed.at)) claimed = null;
    if (!detecting || !standby || state.fencedAt !== null || promoting) return;
    const seen: DetectorObservation = {
      now,
      self: me,
      view: o.view,
      silentSince: Object.fromEntries([self, ...peers].map((l) => [l.node.name, l.silentSince])),
      refusedSince: Object.fromEntries([self, ...peers].map((l) => [l.node.name, l.refusedSince])),
      latencyMs: Object.fromEntries([self, ...peers].map((l) => [l.node.name, l.latencyMs])),
    };
    const d = decideFailover(seen, detector);
    if (d.action === 'promote' && claimed?.primary !== d.primary) return void promote(seen);
    sayDetected(d.reason);
  };
  const timer = setInterval(tick, checkEveryMs);
  logger.info(`fencing watchdog on: a writable ${me} that hears from no majority for ${afterMs} ms stops (checks every ${checkEveryMs} ms)`);
  return {
    stop() {
      clearInterval(timer);
      for (const link of [self, ...peers]) link.close();
    },
  };
}
