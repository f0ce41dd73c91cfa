// The worker on the barman host: consumes the cluster's barman queue (config, schedule, backups).
// Usage: node dist/workers/barman-worker.js --config pgha.yaml
import { parseArgs } from 'node:util';
import { barmanSteps } from '../jobs/index.js';
import { barmanQueueName } from '../src/queues.js';
import { startWorker } from './runtime.js';

export async function startBarmanWorker(configFile: string) {
  // two at a time: a long backup must not hold back the every-minute barman cron
  return startWorker(configFile, (config) => ({ role: 'barman-worker', queueName: barmanQueueName(config.cluster), steps: barmanSteps, concurrency: 2 }));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { values } = parseArgs({ options: { config: { type: 'string' } } });
  const config = values.config ?? process.env.PGHA_CONFIG;
  if (!config) {
    console.error('usage: barman-worker --config FILE (or PGHA_CONFIG)');
    process.exit(2);
  }
  startBarmanWorker(config).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
