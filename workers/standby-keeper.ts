// The standby keeper in each node worker: every 5 s, when this node is a standby, it reads the
// cluster, asks standbyHealStep (src/roles/heal.ts) and, when told, starts the heal flow
// (ensure-follows on this node's queue, visible in Bull Board). A standby left streaming from a
// demoted node or from nothing is brought back without anyone noticing it first.
import type { Logger } from 'winston';
import { Queue } from 'bullmq';
import { openClient } from '../src/postgres/actions.js';
import { BARMAN_SLOT } from '../src/barman/render.js';
import { findNode, nodePaths } from '../src/config/paths.js';
import type { ClusterConfig } from '../src/config/schema.js';
import { buildStandbyHealFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';
import { nodeQueueName } from '../src/queues.js';
import { redisConnection } from '../src/redis.js';
import { majorityPrimary, nodeAnswered, readNodes } from '../src/status.js';
import { HEAL_AFTER_MS, standbyHealStep, type HealState } from '../src/roles/heal.js';

export const HEAL_CHECK_EVERY_MS = 5000;

export function startStandbyKeeper(config: ClusterConfig, me: string, logger: Logger, healAfterMs = HEAL_AFTER_MS): { stop(): void } {
  let state: HealState = { wrongSince: null };
  let busy = false;
  let lastReason = '';
  let lastError = '';
  const connection = redisConnection(config.redis);
  const queue = new Queue(nodeQueueName(config.cluster, me), { connection });

  /**
   * A standby holds no barman slot. One left from a time this node was the primary keeps every WAL
   * segment since then (slots hold WAL on a standby too) and, when the node is promoted again, points
   * barman behind its timeline's start. Looked for once each time the node becomes a standby.
   */
  let slotChecked = false;
  const dropBarmanSlot = async () => {
    const c = await openClient({ host: nodePaths(config, findNode(config, me)).socketDir, port: config.postgres.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
    try {
      const r = await c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [BARMAN_SLOT]);
      if (r.rowCount) logger.info(`standby keeper: dropped replication slot ${BARMAN_SLOT}, left from when ${me} was the primary (it held WAL since then)`);
    } finally {
      await c.end().catch(() => {});
    }
  };

  const check = async () => {
    const nodes = await readNodes(config);
    const self = nodes.find((n) => n.name === me)!;
    if (self.role !== 'standby') slotChecked = false;
    else if (!slotChecked) {
      await dropBarmanSlot();
      slotChecked = true;
    }
    // steps running or about to (a retry's backoff included); not later steps waiting for their
    // children, which wait forever once a step before them failed for good
    const busySteps = self.role === 'standby' ? (await queue.getJobs(['active', 'waiting', 'delayed', 'prioritized'], 0, 50)).filter(Boolean).length : 0;
    const { state: next, decision } = standbyHealStep(state, {
      now: Date.now(),
      self: nodeAnswered(self) ? { standby: self.role === 'standby', upstream: self.upstream } : null,
      primary: majorityPrimary(nodes)?.name ?? null,
      paused: nodes.some((n) => n.repmgrdPaused),
      busySteps,
    }, healAfterMs);
    state = next;
    // said when it changes (the elapsed time aside)
    const key = decision.reason.replace(/\d+ ms/g, 'N ms');
    if (key !== lastReason) logger.info(`standby keeper: ${decision.reason}`);
    lastReason = key;
    if (decision.action === 'heal') {
      const flowId = `${config.cluster}-heal-${me}-${Date.now()}`;
      await startFlow(config.redis, buildStandbyHealFlow(config, me, decision.primary, flowId), 'heal');
      logger.warn(`standby keeper: started flow ${flowId}: ${me} follows ${decision.primary}`);
    }
  };

  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    check()
      .then(() => (lastError = ''))
      .catch((err: Error) => {
        // said once while it lasts (Redis down fails every turn), and again when it changes
        if (err.message !== lastError) logger.warn(`standby keeper: ${err.message}`);
        lastError = err.message;
      })
      .finally(() => (busy = false));
  }, HEAL_CHECK_EVERY_MS);
  logger.info(`standby keeper on: a standby not streaming from the primary for ${healAfterMs / 1000} s follows it`);
  return {
    stop() {
      clearInterval(timer);
      void queue.close().finally(() => connection.disconnect());
    },
  };
}
