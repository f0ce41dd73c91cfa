// A read-only query (used by `pgha status`): the backups barman holds.
import { z } from 'zod';
import { defineStep } from '../src/step.js';
import { listBackups } from '../src/barman/actions.js';

export default defineStep({
  name: 'barman-list-backups',
  schema: z.object({ cluster: z.string() }),
  async run(ctx) {
    return { backups: await listBackups(ctx) };
  },
});
