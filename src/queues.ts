// Queue naming: one queue per PostgreSQL node, one for the barman host, one for cluster control.
import type { ClusterConfig } from './config/schema.js';

export const nodeQueueName = (cluster: string, node: string) => `${cluster}.node.${node}`;
export const barmanQueueName = (cluster: string) => `${cluster}.barman`;
export const controlQueueName = (cluster: string) => `${cluster}.control`;

export function allQueueNames(config: ClusterConfig): string[] {
  return [
    ...config.nodes.map((n) => nodeQueueName(config.cluster, n.name)),
    barmanQueueName(config.cluster),
    controlQueueName(config.cluster),
  ];
}

/** Which queue a step runs on: the queue of the host it touches. */
export type StepHost = { kind: 'node'; node: string } | { kind: 'barman' } | { kind: 'control' };

export function queueFor(cluster: string, host: StepHost): string {
  if (host.kind === 'node') return nodeQueueName(cluster, host.node);
  return host.kind === 'barman' ? barmanQueueName(cluster) : controlQueueName(cluster);
}
