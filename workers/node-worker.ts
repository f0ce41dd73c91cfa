// The worker on a PostgreSQL host: consumes only its own node's queue.
// Usage: node dist/workers/node-worker.js --config pgha.yaml --node NAME
import { parseArgs } from 'node:util';
import { nodeSteps } from '../jobs/index.js';
import { findNode } from '../src/config/paths.js';
import { nodeQueueName } from '../src/queues.js';
import { startWorker } from './runtime.js';

export async function startNodeWorker(configFile: string, nodeName: string) {
  return startWorker(configFile, (config) => {
    findNode(config, nodeName);
    // one step at a time: steps of a node's flow touch the same data directory
    return { role: `node-worker[${nodeName}]`, queueName: nodeQueueName(config.cluster, nodeName), steps: nodeSteps, concurrency: 1 };
  });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { values } = parseArgs({ options: { config: { type: 'string' }, node: { type: 'string' } } });
  const config = values.config ?? process.env.PGHA_CONFIG;
  const node = values.node ?? process.env.PGHA_NODE;
  if (!config || !node) {
    console.error('usage: node-worker --config FILE --node NAME (or PGHA_CONFIG / PGHA_NODE)');
    process.exit(2);
  }
  startNodeWorker(config, node).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
