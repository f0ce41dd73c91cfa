// Queue naming: one queue per PostgreSQL node, one for the barman host, one for cluster control.
// Every name starts with the cluster's hash tag, {<cluster>}: on Redis Cluster all the keys of a
// cluster's queues (and its flow records) fall in one slot, so a flow's parent and children can be
// moved together.
import type { ClusterConfig } from './config/schema.js';

export const clusterTag = (cluster: string) => `{${cluster}}`;
export const nodeQueueName = (cluster: string, node: string) => `${clusterTag(cluster)}.node.${node}`;
export const barmanQueueName = (cluster: string) => `${clusterTag(cluster)}.barman`;
export const controlQueueName = (cluster: string) => `${clusterTag(cluster)}.control`;

export function allQueueNames(config: ClusterConfig): string[] {
  return [
    ...config.nodes.map((n) => nodeQueueName(config.cluster, n.name)),
    barmanQueueName(config.cluster),
    controlQueueName(config.cluster),
  ];
}
