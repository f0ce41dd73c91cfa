// The first-start flows of the seed: one for the primary, one for each standby.
import type { ClusterConfig } from '../config/schema.js';
import { findNode, masterNode } from '../config/paths.js';
import { barmanStep, chainFlow, nodeStep, type PlannedStep } from './chain.js';

export const firstStartFlowId = (cluster: string, node: string) => `${cluster}-first-start-${node}`;

/** The seed's ten steps on the primary, then the first backup (it needs the consumer port, opened by step 9). */
function primaryFirstStart(config: ClusterConfig, node: string): PlannedStep[] {
  return [
    nodeStep(config, node, 'check-master-flag'),
    nodeStep(config, node, 'start-technical-port'),
    nodeStep(config, node, 'configure-replication'),
    nodeStep(config, node, 'create-users'),
    nodeStep(config, node, 'create-repmgr-db'),
    nodeStep(config, node, 'register-primary'),
    barmanStep(config, node, 'barman-config'),
    barmanStep(config, node, 'barman-schedule'),
    nodeStep(config, node, 'restart-consumer-port'),
    nodeStep(config, node, 'start-repmgrd'),
    barmanStep(config, node, 'barman-first-backup'),
  ];
}

/** A standby's first start: it waits for `primary` (the master flag's node), clones it, starts, registers. */
function standbyFirstStart(config: ClusterConfig, node: string, primary: string): PlannedStep[] {
  return [
    nodeStep(config, node, 'check-master-flag', { primary }),
    nodeStep(config, node, 'wait-primary', { primary }),
    nodeStep(config, node, 'standby-clone', { primary }),
    nodeStep(config, node, 'start-standby', { primary }),
    nodeStep(config, node, 'register-standby', { primary }),
    nodeStep(config, node, 'start-repmgrd', { primary }),
  ];
}

export function buildFirstStartFlow(config: ClusterConfig, nodeName: string, flowId?: string) {
  const node = findNode(config, nodeName);
  const id = flowId ?? firstStartFlowId(config.cluster, node.name);
  const steps = node.master ? primaryFirstStart(config, node.name) : standbyFirstStart(config, node.name, masterNode(config).name);
  return { flowId: id, tree: chainFlow(id, steps) };
}
