// The control worker: cluster-wide events (repmgrd's notifications) and the flows they start.
// Started by `pgha worker control [--config FILE]`; it can run on any host with the config.
import { controlSteps } from '../jobs/index.js';
import { controlQueueName } from '../src/queues.js';
import { startWorker } from './runtime.js';

export async function startControlWorker(configFile: string | undefined) {
  return startWorker(configFile, (config) => ({ role: 'control-worker', queueName: controlQueueName(config.cluster), steps: controlSteps, concurrency: 1 }));
}
