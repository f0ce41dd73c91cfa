// The worker on a PostgreSQL host: consumes only its own node's queue. When it starts (the host
// boots), it starts its node by itself: the first-start flow on a new node, else the restart flow.
// Its fencing watchdog stops a writable node cut off from the majority (fence-watchdog.ts); its
// quorum keeper keeps synchronous_standby_names (sync-keeper.ts); its standby keeper makes a standby
// that streams from elsewhere follow the primary (standby-keeper.ts).
// Started by `pgha worker node --name NAME` (cli/main.ts).
import { existsSync, writeFileSync } from 'node:fs';
import { nodeSteps } from '../jobs/index.js';
import { findNode, nodePaths } from '../src/config/paths.js';
import type { ClusterConfig } from '../src/config/schema.js';
import { buildFirstStartFlow } from '../src/flows/first-start.js';
import { buildRestartFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';
import { ensureDir, writeFileAtomic } from '../src/fsutil.js';
import { postmasterStatus } from '../src/postgres/actions.js';
import { nodeQueueName } from '../src/queues.js';
import { startWorker, type Service } from './runtime.js';
import { startHealthServer } from './health.js';
import { startFenceWatchdog } from './fence-watchdog.js';
import { startSyncKeeper } from './sync-keeper.js';
import { startStandbyKeeper } from './standby-keeper.js';
import { createLogger } from '../src/logger.js';
import { drainEventSpool, recordClusterEvent } from '../src/events.js';
import type { Logger } from 'winston';

/** How often the node worker records the events repmgr's hook spooled (src/repmgr/actions.ts, repmgrHooks). */
export const EVENT_SPOOL_EVERY_MS = 500;

/** Every EVENT_SPOOL_EVERY_MS: repmgr's spooled events of this node onto the control queue, in order. */
function startEventSpool(config: ClusterConfig, nodeName: string, logger: Logger): { stop(): void } {
  const dir = nodePaths(config, findNode(config, nodeName)).eventSpool;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    drainEventSpool(dir, (e) => recordClusterEvent(config.redis, config.cluster, e), (l) => logger.warn(l))
      .catch((err: Error) => logger.warn(`event spool: ${err.message}`))
      .finally(() => (busy = false));
  }, EVENT_SPOOL_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** What a booting node runs: nothing, its first start (resumed), or the restart decision. */
export async function bootNode(config: ClusterConfig, nodeName: string): Promise<string> {
  const node = findNode(config, nodeName);
  const p = nodePaths(config, node);
  ensureDir(p.stateDir, { owner: config.osUsers.postgres, mode: 0o750 });
  // repmgr's event hook runs as postgres and cannot read pgha.yaml: it gets the Redis URL here
  writeFileAtomic(p.redisFile, `${JSON.stringify(config.redis)}\n`, { owner: config.osUsers.postgres, mode: 0o600 });
  // where the event hook (run as postgres) leaves repmgr's events for this worker
  ensureDir(p.eventSpool, { owner: config.osUsers.postgres, mode: 0o750 });
  let flow: Parameters<typeof startFlow>[1] | undefined;
  if (!existsSync(p.startedMarker)) flow = buildFirstStartFlow(config, node.name);
  else if (!postmasterStatus(p.dataDir)) flow = buildRestartFlow(config, node.name, `${config.cluster}-boot-${node.name}-${Date.now()}`);
  if (flow) await startFlow(config.redis, flow, existsSync(p.startedMarker) ? 'restart' : 'first-start');
  writeFileSync(p.bootFlowFile, `${flow?.flowId ?? ''}\n`);
  return flow?.flowId ?? '';
}

/**
 * The worker of node `nodeName` with its health server, fencing watchdog and keepers; `ready` settles
 * once it booted the node (its boot flow enqueued). Throws at once when the node is not in the config.
 */
export function startNodeWorker(config: ClusterConfig, nodeName: string): Service {
  findNode(config, nodeName);
  const role = `node-worker[${nodeName}]`;
  // one step at a time: steps of a node's flows touch the same data directory
  const running = startWorker(config, { role, queueName: nodeQueueName(config.cluster, nodeName), steps: nodeSteps, concurrency: 1 });
  const logger = createLogger(role);
  // before the boot flow: a load balancer sees "not primary" at once, not a refused connection
  startHealthServer(config, nodeName, logger);
  startFenceWatchdog(config, nodeName, logger);
  startSyncKeeper(config, nodeName, logger);
  startStandbyKeeper(config, nodeName, logger);
  const spool = startEventSpool(config, nodeName, logger);
  return {
    ready: bootNode(config, nodeName).then(() => undefined),
    stop: async (reason) => {
      spool.stop();
      await running.stop(reason);
    },
  };
}
