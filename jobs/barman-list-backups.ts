// A read-only query (used by `pgha status`): the backups barman holds.
import { defineStep } from '../src/step.js';
import { catalogue } from '../src/barman/actions.js';

export default defineStep('barman-list-backups', {
  async run(ctx) {
    return { backups: catalogue(ctx.config) };
  },
});
