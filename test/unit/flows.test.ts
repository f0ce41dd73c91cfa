import { describe, it, expect } from '@jest/globals';
import type { FlowJob } from 'bullmq';
import { STEP_DEFAULTS, chainFlow, flowSteps, stepJobId, type PlannedStep } from '../../src/flows/chain.js';
import { buildFirstStartFlow, firstStartFlowId } from '../../src/flows/first-start.js';
import { secretsOf } from '../../src/config/load.js';
import { StepDataBase } from '../../src/step.js';
import { CUSTOM_PASSWORDS, localConfig } from './helpers.js';

const steps = (...names: string[]): PlannedStep[] => names.map((step, i) => ({ step, queueName: `q${i}`, data: { n: i } }));

/** Every job of a tree, root first, checking each has at most one child. */
function allJobs(tree: FlowJob): FlowJob[] {
  const out: FlowJob[] = [];
  let cur: FlowJob | undefined = tree;
  while (cur) {
    out.push(cur);
    expect((cur.children ?? []).length).toBeLessThanOrEqual(1);
    cur = cur.children?.[0];
  }
  return out;
}

describe('chainFlow', () => {
  it('nests the steps so the first step is the deepest leaf and the last is the root', () => {
    const tree = chainFlow('f1', steps('a', 'b', 'c'));
    expect(tree.name).toBe('c');
    expect(tree.children).toHaveLength(1);
    expect(tree.children![0].name).toBe('b');
    expect(tree.children![0].children![0].name).toBe('a');
    expect(tree.children![0].children![0].children).toBeUndefined();
    expect(flowSteps(tree).map((j) => j.name)).toEqual(['a', 'b', 'c']);
  });

  it('a single step is a root without children', () => {
    const tree = chainFlow('f1', steps('only'));
    expect(tree.name).toBe('only');
    expect(tree.children).toBeUndefined();
    expect(flowSteps(tree)).toEqual([tree]);
  });

  it('job ids are <flowId>-<step>, without ":"', () => {
    const tree = chainFlow('pgha-first-start-node1', steps('check-master-flag', 'start-technical-port'));
    const ids = flowSteps(tree).map((j) => j.opts?.jobId);
    expect(ids).toEqual(['pgha-first-start-node1-check-master-flag', 'pgha-first-start-node1-start-technical-port']);
    for (const id of ids) expect(id).not.toContain(':');
    expect(stepJobId('x', 'y')).toBe('x-y');
  });

  it('a flow id with ":" throws', () => {
    expect(() => chainFlow('bad:id', steps('a'))).toThrow('flow id "bad:id" must not contain \':\'');
  });

  it('an empty flow throws', () => {
    expect(() => chainFlow('f', [])).toThrow('a flow needs at least one step');
  });

  it('keeps each step\'s queue and data and adds the flowId', () => {
    const jobs = flowSteps(chainFlow('f2', steps('a', 'b')));
    expect(jobs.map((j) => j.queueName)).toEqual(['q0', 'q1']);
    expect(jobs.map((j) => j.data)).toEqual([
      { n: 0, flowId: 'f2' },
      { n: 1, flowId: 'f2' },
    ]);
  });

  it('does not mutate the planned steps', () => {
    const planned = steps('a', 'b');
    const before = structuredClone(planned);
    chainFlow('f', planned);
    expect(planned).toEqual(before);
  });

  it('retries with the defaults unless a step sets attempts, and keeps finished jobs', () => {
    const planned: PlannedStep[] = [
      { step: 'a', queueName: 'q', data: {} },
      { step: 'b', queueName: 'q', data: {}, attempts: 1 },
    ];
    const [a, b] = flowSteps(chainFlow('f', planned));
    expect(a.opts).toMatchObject({ attempts: STEP_DEFAULTS.attempts, backoff: STEP_DEFAULTS.backoff, removeOnComplete: false, removeOnFail: false });
    expect(STEP_DEFAULTS.attempts).toBe(3);
    expect(b.opts?.attempts).toBe(1);
  });
});

/** The seed's steps in its order, each on the host it touches. */
const PRIMARY_FIRST_START: [string, 'node' | 'barman'][] = [
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
const STANDBY_FIRST_START = ['check-master-flag', 'wait-primary', 'standby-clone', 'start-standby', 'register-standby', 'start-repmgrd'];

describe('buildFirstStartFlow', () => {
  const config = localConfig();

  it('master node: exactly PRIMARY_FIRST_START, node steps on the node queue, barman steps on the barman queue', () => {
    const { flowId, tree } = buildFirstStartFlow(config, 'node1');
    expect(flowId).toBe('pgha-first-start-node1');
    const jobs = flowSteps(tree);
    expect(jobs.map((j) => j.name)).toEqual(PRIMARY_FIRST_START.map(([s]) => s));
    jobs.forEach((job, i) => {
      const kind = PRIMARY_FIRST_START[i][1];
      expect(job.queueName).toBe(kind === 'node' ? '{pgha}.node.node1' : '{pgha}.barman');
      expect(job.opts?.jobId).toBe(`pgha-first-start-node1-${job.name}`);
      expect(job.data).toEqual({ cluster: 'pgha', node: 'node1', flowId: 'pgha-first-start-node1' });
    });
    expect(allJobs(tree)).toHaveLength(PRIMARY_FIRST_START.length);
  });

  it('the primary plan is the seed\'s order', () => {
    const names = flowSteps(buildFirstStartFlow(config, 'node1').tree).map((j) => j.name);
    // the first backup needs the consumer port
    expect(names.indexOf('barman-first-backup')).toBeGreaterThan(names.indexOf('restart-consumer-port'));
  });

  it('standby node: exactly STANDBY_FIRST_START on its own queue, data names the primary', () => {
    const { flowId, tree } = buildFirstStartFlow(config, 'node2');
    expect(flowId).toBe('pgha-first-start-node2');
    const jobs = flowSteps(tree);
    expect(jobs.map((j) => j.name)).toEqual(STANDBY_FIRST_START);
    for (const job of jobs) {
      expect(job.queueName).toBe('{pgha}.node.node2');
      expect(job.data).toEqual({ cluster: 'pgha', node: 'node2', primary: 'node1', flowId: 'pgha-first-start-node2' });
    }
  });

  it('the master\'s data has no primary field', () => {
    for (const job of flowSteps(buildFirstStartFlow(config, 'node1').tree)) expect(job.data).not.toHaveProperty('primary');
  });

  it('uses the cluster name in queues and ids, and a given flow id', () => {
    const demo = localConfig({ cluster: 'demo' });
    const { flowId, tree } = buildFirstStartFlow(demo, 'node3', 'retry-7');
    expect(flowId).toBe('retry-7');
    const jobs = flowSteps(tree);
    expect(new Set(jobs.map((j) => j.queueName))).toEqual(new Set(['{demo}.node.node3']));
    expect(jobs.map((j) => j.opts?.jobId)).toEqual(STANDBY_FIRST_START.map((s) => `retry-7-${s}`));
    expect(jobs[0].data).toEqual({ cluster: 'demo', node: 'node3', primary: 'node1', flowId: 'retry-7' });
    const primaryQueues = new Set(flowSteps(buildFirstStartFlow(demo, 'node1').tree).map((j) => j.queueName));
    expect(primaryQueues).toEqual(new Set(['{demo}.node.node1', '{demo}.barman']));
    expect(firstStartFlowId('demo', 'node3')).toBe('demo-first-start-node3');
  });

  it('a given flow id with ":" is refused', () => {
    expect(() => buildFirstStartFlow(config, 'node1', 'a:b')).toThrow(/must not contain ':'/);
  });

  it('an unknown node throws naming the known ones', () => {
    expect(() => buildFirstStartFlow(config, 'node9')).toThrow('node "node9" is not in the config\'s nodes (known: node1, node2, node3)');
  });

  it('is deterministic: the same input gives identical trees', () => {
    for (const name of ['node1', 'node2', 'node3']) {
      const a = buildFirstStartFlow(localConfig(), name);
      const b = buildFirstStartFlow(localConfig(), name);
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      expect(b).toEqual(a);
    }
  });

  it('job ids are unique within a flow and never contain ":"', () => {
    for (const name of ['node1', 'node2']) {
      const ids = flowSteps(buildFirstStartFlow(config, name).tree).map((j) => String(j.opts?.jobId));
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(id).not.toContain(':');
    }
  });

  it('job data never contains a password', () => {
    for (const cfg of [localConfig(), localConfig(CUSTOM_PASSWORDS)]) {
      const secrets = secretsOf(cfg);
      expect(secrets).toHaveLength(5);
      for (const node of cfg.nodes) {
        const text = JSON.stringify(buildFirstStartFlow(cfg, node.name));
        for (const secret of secrets) expect(text).not.toContain(secret);
      }
    }
  });

  it('job data satisfies the step contract (StepDataBase)', () => {
    for (const node of config.nodes) {
      for (const job of flowSteps(buildFirstStartFlow(config, node.name).tree)) {
        expect(StepDataBase.safeParse(job.data).success).toBe(true);
      }
    }
  });
});

describe('capped backoff (refused restarts wait for the cluster to change)', () => {
  it('doubles from 2 s and never waits more than 30 s', async () => {
    const { cappedBackoff } = await import('../../src/flows/chain.js');
    expect([1, 2, 3, 4, 5, 6, 20].map(cappedBackoff)).toEqual([2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
});
