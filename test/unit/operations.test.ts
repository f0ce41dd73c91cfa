import { describe, it, expect } from '@jest/globals';
import type { FlowJob } from 'bullmq';
import { flowSteps, STEP_DEFAULTS } from '../../src/flows/chain.js';
import { buildAfterPromotionFlow, buildDetectedFailoverFlow, buildPlannedRestartFlow, buildRestartFlow, buildRoleChangeFlow } from '../../src/flows/operations.js';
import { secretsOf } from '../../src/config/load.js';
import { StepDataBase } from '../../src/step.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { CUSTOM_PASSWORDS, localConfig } from './helpers.js';

/** A five-node local cluster, so role changes have more than one other follower. */
const FIVE = {
  nodes: [
    { name: 'node1', host: '127.0.0.11', master: true },
    { name: 'node2', host: '127.0.0.12' },
    { name: 'node3', host: '127.0.0.13' },
    { name: 'node4', host: '127.0.0.14' },
    { name: 'node5', host: '127.0.0.15' },
  ],
};

/** `name@queue` of each step in run order. */
const plan = (tree: FlowJob) => flowSteps(tree).map((j) => `${j.name}@${j.queueName}`);
const ids = (tree: FlowJob) => flowSteps(tree).map((j) => String(j.opts?.jobId));

function expectSoundTree(tree: FlowJob, flowId: string) {
  const jobs = flowSteps(tree);
  const jobIds = jobs.map((j) => String(j.opts?.jobId));
  expect(new Set(jobIds).size).toBe(jobIds.length);
  for (const job of jobs) {
    expect(String(job.opts?.jobId).startsWith(`${flowId}-`)).toBe(true);
    expect(job.opts?.jobId).not.toContain(':');
    expect(job.data).toMatchObject({ flowId });
    expect(StepDataBase.safeParse(job.data).success).toBe(true);
    expect((job.children ?? []).length).toBeLessThanOrEqual(1);
  }
}

function expectNoSecrets(config: ClusterConfig, built: unknown) {
  const secrets = secretsOf(config);
  expect(secrets.length).toBeGreaterThan(0);
  const text = JSON.stringify(built);
  for (const s of secrets) expect(text).not.toContain(s);
}

describe('buildRestartFlow', () => {
  const config = localConfig();

  it('three steps on the node\'s queue: decide-and-start, register-node, start-repmgrd', () => {
    const { flowId, tree } = buildRestartFlow(config, 'node2', 'restart-1');
    expect(flowId).toBe('restart-1');
    expect(plan(tree)).toEqual(['decide-and-start@{pgha}.node.node2', 'register-node@{pgha}.node.node2', 'start-repmgrd@{pgha}.node.node2']);
    expect(ids(tree)).toEqual(['restart-1-decide-and-start', 'restart-1-register-node', 'restart-1-start-repmgrd']);
    expectSoundTree(tree, 'restart-1');
  });

  it('decide-and-start retries 20 times (a refusal changes when a peer returns); the others keep the default', () => {
    const [decide, register, repmgrd] = flowSteps(buildRestartFlow(config, 'node2', 'r').tree);
    expect(decide.opts?.attempts).toBe(20);
    expect(register.opts?.attempts).toBe(STEP_DEFAULTS.attempts);
    expect(repmgrd.opts?.attempts).toBe(STEP_DEFAULTS.attempts);
  });

  it('start-repmgrd restarts repmgrd; data names the cluster and node', () => {
    const [decide, register, repmgrd] = flowSteps(buildRestartFlow(config, 'node3', 'r').tree);
    expect(decide.data).toEqual({ cluster: 'pgha', node: 'node3', flowId: 'r' });
    expect(register.data).toEqual({ cluster: 'pgha', node: 'node3', flowId: 'r' });
    expect(repmgrd.data).toEqual({ cluster: 'pgha', node: 'node3', restart: true, flowId: 'r' });
  });

  it('uses the cluster name in the queue', () => {
    const demo = localConfig({ cluster: 'demo' });
    expect(new Set(flowSteps(buildRestartFlow(demo, 'node1', 'r').tree).map((j) => j.queueName))).toEqual(new Set(['{demo}.node.node1']));
  });

  it('an unknown node throws', () => {
    expect(() => buildRestartFlow(config, 'node9', 'r')).toThrow('node "node9" is not in the config\'s nodes');
  });

  it('a flow id with ":" throws', () => {
    expect(() => buildRestartFlow(config, 'node1', 'a:b')).toThrow(/must not contain ':'/);
  });
});

describe('buildPlannedRestartFlow', () => {
  const config = localConfig();

  it('pauses repmgrd first, stops, decides and starts, registers, restarts repmgrd, resumes last', () => {
    const { flowId, tree } = buildPlannedRestartFlow(config, 'node1', 'pr-1');
    expect(flowId).toBe('pr-1');
    const jobs = flowSteps(tree);
    expect(jobs.map((j) => j.name)).toEqual([
      'set-repmgrd-paused',
      'stop-postgres',
      'decide-and-start',
      'register-node',
      'start-repmgrd',
      'set-repmgrd-paused',
    ]);
    for (const j of jobs) expect(j.queueName).toBe('{pgha}.node.node1');
    expect(jobs[0].data).toMatchObject({ paused: true });
    expect(jobs[jobs.length - 1].data).toMatchObject({ paused: false });
    expect(tree.name).toBe('set-repmgrd-paused');
    expect(tree.data).toMatchObject({ paused: false });
  });

  it('job ids are unique; pause and resume are <flowId>-pause-repmgrd and <flowId>-resume-repmgrd', () => {
    const { tree } = buildPlannedRestartFlow(config, 'node2', 'pr-2');
    expect(ids(tree)).toEqual([
      'pr-2-pause-repmgrd',
      'pr-2-stop-postgres',
      'pr-2-decide-and-start',
      'pr-2-register-node',
      'pr-2-start-repmgrd',
      'pr-2-resume-repmgrd',
    ]);
    expectSoundTree(tree, 'pr-2');
  });

  it('decide-and-start retries 20 times, start-repmgrd restarts', () => {
    const jobs = flowSteps(buildPlannedRestartFlow(config, 'node2', 'pr').tree);
    expect(jobs.find((j) => j.name === 'decide-and-start')!.opts?.attempts).toBe(20);
    expect(jobs.find((j) => j.name === 'start-repmgrd')!.data).toMatchObject({ restart: true });
    expect(jobs.find((j) => j.name === 'stop-postgres')!.opts?.attempts).toBe(STEP_DEFAULTS.attempts);
  });
});

describe('buildDetectedFailoverFlow', () => {
  it('the candidate is promoted (the rule read with the short timeout), the followers follow before any repmgrd restart (a quorum commit needs one streaming), then repmgrd, then barman', () => {
    const { flowId, tree } = buildDetectedFailoverFlow(localConfig(FIVE), { to: 'node2', followers: ['node3', 'node4'], flowId: 'df-1', connectTimeoutMs: 750 });
    expect(flowId).toBe('df-1');
    expect(plan(tree)).toEqual([
      'promote@{pgha}.node.node2',
      'ensure-follows@{pgha}.node.node3',
      'ensure-follows@{pgha}.node.node4',
      'start-repmgrd@{pgha}.node.node2',
      'start-repmgrd@{pgha}.node.node3',
      'start-repmgrd@{pgha}.node.node4',
      'barman-switch-primary@{pgha}.barman',
      'barman-backup@{pgha}.barman',
    ]);
    expectSoundTree(tree, 'df-1');
    const [promote, follow] = flowSteps(tree);
    expect(promote.data).toMatchObject({ node: 'node2', why: 'failover', connectTimeoutMs: 750, detected: true });
    expect(promote.data).not.toHaveProperty('force');
    expect(follow.data).toMatchObject({ node: 'node3', primary: 'node2' });
  });
});

describe('buildAfterPromotionFlow', () => {
  const config = localConfig();

  it('barman switches first, the given followers follow, a backup runs last', () => {
    const { flowId, tree } = buildAfterPromotionFlow(config, 'node2', 'ap-1', ['node1', 'node3']);
    expect(flowId).toBe('ap-1');
    expect(plan(tree)).toEqual([
      'barman-switch-primary@{pgha}.barman',
      'ensure-follows@{pgha}.node.node1',
      'ensure-follows@{pgha}.node.node3',
      'barman-backup@{pgha}.barman',
    ]);
    expect(ids(tree)).toEqual(['ap-1-barman-switch-primary', 'ap-1-ensure-follows-node1', 'ap-1-ensure-follows-node3', 'ap-1-barman-backup']);
    expectSoundTree(tree, 'ap-1');
  });

  it('barman steps name the new primary; ensure-follows names the follower and the primary', () => {
    const jobs = flowSteps(buildAfterPromotionFlow(config, 'node2', 'ap', ['node3']).tree);
    expect(jobs.map((j) => j.data)).toEqual([
      { cluster: 'pgha', node: 'node2', flowId: 'ap' },
      { cluster: 'pgha', node: 'node3', primary: 'node2', flowId: 'ap' },
      { cluster: 'pgha', node: 'node2', flowId: 'ap' },
    ]);
  });

  it('a node not in followers (down) gets no step', () => {
    const { tree } = buildAfterPromotionFlow(config, 'node2', 'ap', ['node3']);
    const queues = flowSteps(tree).map((j) => j.queueName);
    expect(queues).not.toContain('{pgha}.node.node1');
    expect(queues).not.toContain('{pgha}.node.node2');
    expect(JSON.stringify(tree)).not.toContain('node1');
  });

  it('no followers: only barman steps', () => {
    const { tree } = buildAfterPromotionFlow(config, 'node1', 'ap', []);
    expect(plan(tree)).toEqual(['barman-switch-primary@{pgha}.barman', 'barman-backup@{pgha}.barman']);
  });

  it('uses the cluster\'s barman queue', () => {
    const demo = localConfig({ cluster: 'demo' });
    const jobs = flowSteps(buildAfterPromotionFlow(demo, 'node2', 'ap', ['node1']).tree);
    expect(jobs[0].queueName).toBe('{demo}.barman');
    expect(jobs[jobs.length - 1].queueName).toBe('{demo}.barman');
    expect(jobs[1].queueName).toBe('{demo}.node.node1');
  });

  it('an unknown follower throws', () => {
    expect(() => buildAfterPromotionFlow(config, 'node2', 'ap', ['node7'])).toThrow('node "node7" is not in the config\'s nodes');
  });
});

describe('buildRoleChangeFlow: switchover', () => {
  const config = localConfig(FIVE);
  const build = (followers = ['node1', 'node3', 'node4']) =>
    buildRoleChangeFlow(config, { mode: 'switchover', from: 'node1', to: 'node2', flowId: 'sw-1', followers });

  it('pause, stop the old primary, promote, rejoin, others follow, repmgrd, barman, resume', () => {
    const { flowId, tree } = build();
    expect(flowId).toBe('sw-1');
    expect(plan(tree)).toEqual([
      'set-repmgrd-paused@{pgha}.node.node2',
      'stop-postgres@{pgha}.node.node1',
      'promote@{pgha}.node.node2',
      'rejoin-node@{pgha}.node.node1',
      'ensure-follows@{pgha}.node.node3',
      'ensure-follows@{pgha}.node.node4',
      'start-repmgrd@{pgha}.node.node2',
      'barman-switch-primary@{pgha}.barman',
      'set-repmgrd-paused@{pgha}.node.node2',
    ]);
    expect(ids(tree)).toEqual([
      'sw-1-pause-repmgrd',
      'sw-1-stop-postgres',
      'sw-1-promote',
      'sw-1-rejoin-node',
      'sw-1-ensure-follows-node3',
      'sw-1-ensure-follows-node4',
      'sw-1-start-repmgrd',
      'sw-1-barman-switch-primary',
      'sw-1-resume-repmgrd',
    ]);
    expectSoundTree(tree, 'sw-1');
  });

  it('step data: pause/resume flags, rejoin and follow name the target, repmgrd restarts, barman names the target', () => {
    const jobs = flowSteps(build().tree);
    const byId = new Map(jobs.map((j) => [String(j.opts?.jobId).replace('sw-1-', ''), j]));
    expect(byId.get('pause-repmgrd')!.data).toEqual({ cluster: 'pgha', node: 'node2', paused: true, flowId: 'sw-1' });
    expect(byId.get('stop-postgres')!.data).toEqual({ cluster: 'pgha', node: 'node1', flowId: 'sw-1' });
    expect(byId.get('promote')!.data).toEqual({ cluster: 'pgha', node: 'node2', flowId: 'sw-1', why: 'switchover' });
    expect(byId.get('rejoin-node')!.data).toEqual({ cluster: 'pgha', node: 'node1', primary: 'node2', flowId: 'sw-1' });
    expect(byId.get('ensure-follows-node3')!.data).toEqual({ cluster: 'pgha', node: 'node3', primary: 'node2', flowId: 'sw-1' });
    expect(byId.get('start-repmgrd')!.data).toEqual({ cluster: 'pgha', node: 'node2', restart: true, flowId: 'sw-1' });
    expect(byId.get('barman-switch-primary')!.data).toEqual({ cluster: 'pgha', node: 'node2', flowId: 'sw-1' });
    expect(byId.get('resume-repmgrd')!.data).toEqual({ cluster: 'pgha', node: 'node2', paused: false, flowId: 'sw-1' });
  });

  it('ensure-follows only for the other followers: never the old primary nor the target', () => {
    const { tree } = build(['node1', 'node2', 'node3']);
    const follows = flowSteps(tree).filter((j) => j.name === 'ensure-follows');
    expect(follows.map((j) => j.data.node)).toEqual(['node3']);
  });

  it('a node not in followers (down) gets no step', () => {
    const { tree } = build(['node3']);
    const queues = new Set(flowSteps(tree).map((j) => j.queueName));
    expect(queues).toEqual(new Set(['{pgha}.node.node1', '{pgha}.node.node2', '{pgha}.node.node3', '{pgha}.barman']));
  });

  it('the old primary is stopped before the target is promoted, and rejoins after', () => {
    const names = flowSteps(build().tree).map((j) => j.name);
    expect(names.indexOf('stop-postgres')).toBeLessThan(names.indexOf('promote'));
    expect(names.indexOf('rejoin-node')).toBeGreaterThan(names.indexOf('promote'));
    expect(names.indexOf('set-repmgrd-paused')).toBe(0);
    expect(names.lastIndexOf('set-repmgrd-paused')).toBe(names.length - 1);
  });

  it('without the current primary: throws', () => {
    expect(() => buildRoleChangeFlow(config, { mode: 'switchover', from: null, to: 'node2', flowId: 'sw', followers: [] })).toThrow(
      'a switchover needs the current primary',
    );
  });

  it('to the current primary: throws', () => {
    expect(() => buildRoleChangeFlow(config, { mode: 'switchover', from: 'node2', to: 'node2', flowId: 'sw', followers: [] })).toThrow(
      'node2 is already the primary',
    );
  });

  it('an unknown target throws', () => {
    expect(() => buildRoleChangeFlow(config, { mode: 'switchover', from: 'node1', to: 'node9', flowId: 'sw', followers: [] })).toThrow(
      'node "node9" is not in the config\'s nodes',
    );
  });
});

describe('buildRoleChangeFlow: failover', () => {
  const config = localConfig(FIVE);

  it('pause, promote, others follow, repmgrd, barman, resume: no stop-postgres, no rejoin-node', () => {
    const { tree } = buildRoleChangeFlow(config, { mode: 'failover', from: null, to: 'node3', flowId: 'fo-1', followers: ['node2', 'node4'] });
    expect(plan(tree)).toEqual([
      'set-repmgrd-paused@{pgha}.node.node3',
      'promote@{pgha}.node.node3',
      'ensure-follows@{pgha}.node.node2',
      'ensure-follows@{pgha}.node.node4',
      'start-repmgrd@{pgha}.node.node3',
      'barman-switch-primary@{pgha}.barman',
      'set-repmgrd-paused@{pgha}.node.node3',
    ]);
    expect(ids(tree)[0]).toBe('fo-1-pause-repmgrd');
    expect(ids(tree).at(-1)).toBe('fo-1-resume-repmgrd');
    expectSoundTree(tree, 'fo-1');
  });

  it('with a known old primary: it is left alone (no step on its queue), even when listed as a follower', () => {
    const { tree } = buildRoleChangeFlow(config, { mode: 'failover', from: 'node1', to: 'node3', flowId: 'fo', followers: ['node1', 'node2', 'node3'] });
    const jobs = flowSteps(tree);
    expect(jobs.map((j) => j.name)).not.toContain('stop-postgres');
    expect(jobs.map((j) => j.name)).not.toContain('rejoin-node');
    expect(jobs.map((j) => j.queueName)).not.toContain('{pgha}.node.node1');
    expect(jobs.filter((j) => j.name === 'ensure-follows').map((j) => j.data.node)).toEqual(['node2']);
  });

  it('to the node named as old primary: throws', () => {
    expect(() => buildRoleChangeFlow(config, { mode: 'failover', from: 'node3', to: 'node3', flowId: 'fo', followers: [] })).toThrow(
      'node3 is already the primary',
    );
  });
});

describe('operation flows: no secrets in job data', () => {
  it('no flow carries a password, with seed or custom passwords', () => {
    for (const cfg of [localConfig(FIVE), localConfig({ ...FIVE, ...CUSTOM_PASSWORDS })]) {
      expectNoSecrets(cfg, buildRestartFlow(cfg, 'node2', 'r'));
      expectNoSecrets(cfg, buildPlannedRestartFlow(cfg, 'node2', 'pr'));
      expectNoSecrets(cfg, buildAfterPromotionFlow(cfg, 'node2', 'ap', ['node1', 'node3', 'node4', 'node5']));
      expectNoSecrets(cfg, buildRoleChangeFlow(cfg, { mode: 'switchover', from: 'node1', to: 'node2', flowId: 'sw', followers: ['node3', 'node4', 'node5'] }));
      expectNoSecrets(cfg, buildRoleChangeFlow(cfg, { mode: 'failover', from: null, to: 'node2', flowId: 'fo', followers: ['node3', 'node4', 'node5'] }));
    }
  });

  it('job data holds only step fields, no config object', () => {
    const cfg = localConfig(FIVE);
    const trees = [
      buildRestartFlow(cfg, 'node2', 'r').tree,
      buildPlannedRestartFlow(cfg, 'node2', 'pr').tree,
      buildAfterPromotionFlow(cfg, 'node2', 'ap', ['node1']).tree,
      buildRoleChangeFlow(cfg, { mode: 'switchover', from: 'node1', to: 'node2', flowId: 'sw', followers: ['node3'] }).tree,
    ];
    const allowed = new Set(['cluster', 'node', 'flowId', 'primary', 'paused', 'restart', 'why']);
    for (const t of trees) for (const j of flowSteps(t)) for (const k of Object.keys(j.data)) expect(allowed.has(k) ? k : `unexpected ${k}`).toBe(k);
  });
});
