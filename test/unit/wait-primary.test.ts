import { describe, it, expect } from '@jest/globals';
import waitPrimary from '../../jobs/wait-primary.js';
import { nodeQueueName } from '../../src/queues.js';
import type { StepContext } from '../../src/step.js';
import { localConfig } from './helpers.js';

describe('wait-primary', () => {
  it('runs out naming the queue as it is really called ({cluster}.node.NAME), where the first start flow can be found', async () => {
    // nothing listens on these addresses: every node refuses at once
    const config = localConfig({ nodes: [1, 2, 3].map((i) => ({ name: `node${i}`, host: `127.0.99.${10 + i}`, master: i === 1 })) });
    const lines: string[] = [];
    const ctx = { config, log: async (l: string) => void lines.push(l), progress: async () => {}, signal: new AbortController().signal } as unknown as StepContext;
    const data = waitPrimary.schema.parse({ cluster: config.cluster, flowId: 'f', node: 'node2', primary: 'node1', timeoutSec: 1 });
    const err = (await waitPrimary.run(ctx, data).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/^no node took writes within 1 s \(node1 down.*\); at the first start check node1's first-start flow on queue /);
    expect(err.message).toContain(`on queue ${nodeQueueName(config.cluster, 'node1')}, then retry this step`);
    expect(err.message).toContain('{pgha}.node.node1');
    expect(lines[0]).toMatch(/^waiting for a primary: node1 down/);
  });
});
