// The standby keeper in each node worker: every KEEPER_EVERY_MS (5 s), when this node is a standby, it reads the
// cluster, asks standbyHealStep (src/roles/heal.ts) and, when told, starts the heal flow
// (ensure-follows on this node's queue, visible in Bull Board). A standby left streaming from a
// demoted node or from nothing is brought back without anyone noticing it first. It also ends
// repmgrd's waits on a frozen node (src/repmgr/unstick.ts), and pauses repmgrd again where maintenance
// mode is on but a restarted PostgreSQL forgot the pause, on every node whatever its role.
import { lookup } from 'node:dns/promises';
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
import { readClusterView } from '../src/probe.js';
import { answered, roleOf, type ClusterView } from '../src/roles/view.js';
import { HEAL_AFTER_MS, standbyHealStep, type HealState } from '../src/roles/heal.js';
import { destroyRepmgrdConnections, setRepmgrdPaused } from '../src/repmgr/actions.js';
import { readMaintenance } from '../src/flows/registry.js';
import { KEEPER_EVERY_MS, mustReassertPause } from '../src/roles/maintenance.js';
import { silenceStep, type SilenceState } from '../src/repmgr/unstick.js';
import { secretsOf } from '../src/config/load.js';
import { Runner } from '../src/exec/runner.js';
import type { NodeContext } from '../src/postgres/actions.js';


export function startStandbyKeeper(config: ClusterConfig, me: string, logger: Logger, healAfterMs = HEAL_AFTER_MS): { stop(): void } {
  let state: HealState = { wrongSince: null };
  let busy = false;
  let lastReason = '';
  let lastError = '';
  const connection = redisConnection(config.redis);
  const queue = new Queue(nodeQueueName(config.cluster, me), { connection });
  // ss's command lines are not logged every 5 s: the keeper says what it destroyed
  const nc: NodeContext = { config, node: findNode(config, me), run: new Runner(secretsOf(config)), log: (l) => void logger.info(l) };
  let silence: SilenceState = {};
  let unstickError = '';

  /** repmgrd's connections to nodes silent for UNSTICK_AFTER_MS are destroyed: a query it sent to a frozen node never returns. */
  const unstick = async (view: ClusterView, sentAt: number) => {
    const peers = view.nodes.filter((n) => n.name !== me);
    // only "no answer" (timed out, refused) is silence: a node that answers with an error (authentication, starting up) is not frozen
    const step = silenceStep(silence, Object.fromEntries(peers.map((n) => [n.name, answered(n) || !n.down])), sentAt, Date.now());
    silence = step.state;
    for (const name of step.silent) {
      const peer = findNode(config, name);
      try {
        let destroyed = 0;
        for (const { address } of await lookup(peer.host, { all: true })) destroyed += await destroyRepmgrdConnections(nc, address, config.postgres.port);
        if (destroyed) logger.warn(`standby keeper: ${name} has not answered for ${Date.now() - step.state[name]!} ms: destroyed ${destroyed} of repmgrd's connections to it (a query sent to a frozen node never returns; repmgrd now sees it as failed)`);
        unstickError = '';
      } catch (err) {
        const msg = `repmgrd's connections to ${name}, silent, not destroyed: ${(err as Error).message} (ss -K needs root or CAP_NET_ADMIN); a repmgrd waiting on a frozen node may not fail over until it resumes`;
        if (msg !== unstickError) logger.warn(`standby keeper: ${msg}`);
        unstickError = msg;
      }
    }
  };

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
    const sentAt = Date.now();
    const view = await readClusterView(config);
    await unstick(view, sentAt);
    // maintenance mode outlives a PostgreSQL restart, repmgrd's pause (shared memory) does not
    const self = view.nodes.find((n) => n.name === me);
    if (self && mustReassertPause(await readMaintenance(connection, config.cluster), { answered: answered(self), repmgrdPaused: self.repmgrdPaused })) {
      await setRepmgrdPaused(nc, true);
      logger.warn(`standby keeper: maintenance mode is on but repmgrd was not paused on ${me} (its PostgreSQL restarted): paused it again`);
    }
    const standby = roleOf(view, me) === 'standby';
    if (!standby) slotChecked = false;
    else if (!slotChecked) {
      await dropBarmanSlot();
      slotChecked = true;
    }
    // steps running or about to (a retry's backoff included); not later steps waiting for their
    // children, which wait forever once a step before them failed for good
    const busySteps = standby ? (await queue.getJobs(['active', 'waiting', 'delayed', 'prioritized'], 0, 50)).filter(Boolean).length : 0;
    const { state: next, decision } = standbyHealStep(state, { now: Date.now(), self: me, view, busySteps }, healAfterMs);
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
  }, KEEPER_EVERY_MS);
  logger.info(`standby keeper on: a standby not streaming from the primary for ${healAfterMs / 1000} s follows it`);
  return {
    stop() {
      clearInterval(timer);
      void queue.close().finally(() => connection.disconnect());
    },
  };
}
