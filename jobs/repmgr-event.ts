// Control queue: an event repmgrd reported (through `pgha event`). The job itself is the record,
// kept on the control queue; a promotion starts the follow-up flow.
import { defineStep } from '../src/step.js';
import { buildAfterPromotionFlow } from '../src/flows/operations.js';
import { startFlow } from '../src/flows/run.js';
import { readClusterView } from '../src/probe.js';
import { answered } from '../src/roles/view.js';
import { notePromotion } from './context.js';
import { PROMOTION_EVENTS } from '../src/repmgr/actions.js';

export default defineStep('repmgr-event', {
  async run(ctx, data) {
    const node = ctx.config.nodes[data.nodeId - 1]?.name ?? `node id ${data.nodeId}`;
    await ctx.log(`repmgr event ${data.event} on ${node}: ${data.success ? 'success' : 'FAILURE'} at ${data.at}`);
    if (!data.success || !PROMOTION_EVENTS.includes(data.event)) return { node, event: data.event };
    // the standbys that answer now; a node that is down follows through its own restart decision
    const view = await readClusterView(ctx.config);
    const followers = view.nodes.filter((p) => p.name !== node && answered(p) && !p.writable).map((p) => p.name);
    const promoted = view.nodes.find((p) => p.name === node);
    if (promoted?.writable && promoted.timeline) await notePromotion(ctx, { timeline: promoted.timeline, node, at: data.at, why: 'failover', by: 'repmgrd' });
    const flow = buildAfterPromotionFlow(ctx.config, node, `${ctx.config.cluster}-promoted-${node}-${data.at.replace(/[^0-9]/g, '')}`, followers);
    await startFlow(ctx.config.redis, flow, 'after-promotion');
    await ctx.log(`follow-up flow ${flow.flowId}: standbys follow ${node}, barman streams from it and takes a backup`);
    return { node, event: data.event, followUp: flow.flowId };
  },
});
