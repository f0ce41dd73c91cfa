// Primary step 7 (barman host): barman's config and the server file for this cluster's primary.
import { defineStep } from '../src/step.js';
import { findNode } from '../src/config/paths.js';
import { writeBarmanFiles } from '../src/barman/actions.js';

export default defineStep('barman-config', {
  async run(ctx, data) {
    const primary = findNode(ctx.config, data.node);
    const changed = writeBarmanFiles(ctx, primary);
    await ctx.log(changed ? `barman server ${ctx.config.cluster} configured to back up ${primary.name}` : 'barman configuration already up to date');
    return { changed };
  },
});
