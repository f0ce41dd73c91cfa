// The worker on the barman host: consumes the cluster's barman queue (config, schedule, backups).
// Started by `pgha worker barman` (cli/main.ts).
import { barmanSteps } from '../jobs/index.js';
import { barmanQueueName } from '../src/queues.js';
import { startWorker, type Service } from './runtime.js';
import { upsertBarmanSchedules } from '../src/barman/schedules.js';
import type { ClusterConfig } from '../src/config/schema.js';

/** The barman host's worker; `ready` settles once barman's schedules are upserted. */
export function startBarmanWorker(config: ClusterConfig): Service {
  // two at a time: a long backup must not hold back the every-minute barman cron
  const running = startWorker(config, { role: 'barman-worker', queueName: barmanQueueName(config.cluster), steps: barmanSteps, concurrency: 2 });
  // a changed schedule in the config takes effect when the worker restarts (upserted, never duplicated)
  return { ready: upsertBarmanSchedules(config).then(() => undefined), stop: running.stop };
}
