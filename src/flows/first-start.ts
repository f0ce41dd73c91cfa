// The first-start flows of the seed: one for the primary, one for each standby.
import type { ClusterConfig } from '../config/schema.js';
import { findNode, masterNode } from '../config/paths.js';
import { queueFor, type StepHost } from '../queues.js';
import { chainFlow, type PlannedStep } from './chain.js';

/** The seed's ten steps, then the first backup (it needs the consumer port, opened by step 9). */
export const PRIMARY_FIRST_START: [string, 'node' | 'barman'][] = [
  ['check-master-flag', 'node'],
  ['start-technical-port', 'node'],
  ['configure-replication', 'node'],
  ['create-users', 'node'],
  ['create-repmgr-db', 'node'],
  ['register-primary', 'node'],
  ['barman-config', 'barman'],
  ['barman-schedule', 'barman'],
  ['restart-consumer-port', 'node'],
  ['start-repmgrd', 'node'],
  ['barman-first-backup', 'barman'],
];

export const STANDBY_FIRST_START: [string, 'node' | 'barman'][] = [
  ['check-master-flag', 'node'],
  ['wait-primary', 'node'],
  ['standby-clone', 'node'],
  ['start-standby', 'node'],
  ['register-standby', 'node'],
  ['start-repmgrd', 'node'],
];

export const firstStartFlowId = (cluster: string, node: string) => `${cluster}-first-start-${node}`;

export function buildFirstStartFlow(config: ClusterConfig, nodeName: string, flowId?: string) {
  const node = findNode(config, nodeName);
  const id = flowId ?? firstStartFlowId(config.cluster, node.name);
  const plan = node.master ? PRIMARY_FIRST_START : STANDBY_FIRST_START;
  const primary = masterNode(config);
  const steps: PlannedStep[] = plan.map(([step, kind]) => {
    const host: StepHost = kind === 'node' ? { kind: 'node', node: node.name } : { kind: 'barman' };
    return {
      step,
      queueName: queueFor(config.cluster, host),
      data: { cluster: config.cluster, node: node.name, ...(node.master ? {} : { primary: primary.name }) },
    };
  });
  return { flowId: id, tree: chainFlow(id, steps) };
}
