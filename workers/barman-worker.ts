// The worker on the barman host: consumes the cluster's barman queue (config, schedule, backups).
// Started by `pgha worker barman [--config FILE]`.
import { barmanSteps } from '../jobs/index.js';
import { barmanQueueName } from '../src/queues.js';
import { startWorker } from './runtime.js';

export async function startBarmanWorker(configFile: string | undefined) {
  // two at a time: a long backup must not hold back the every-minute barman cron
  return startWorker(configFile, (config) => ({ role: 'barman-worker', queueName: barmanQueueName(config.cluster), steps: barmanSteps, concurrency: 2 }));
}

