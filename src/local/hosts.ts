// Local mode's host verbs: a node's host dies (`local kill`) or boots (`local start`).
import { join } from 'node:path';
import { findNode, nodePaths } from '../config/paths.js';
import { watchFlows } from '../flows/run.js';
import { postmasterStatus } from '../postgres/actions.js';
import { redisConnection } from '../redis.js';
import { isAlive, readPidFile } from '../fsutil.js';
import { bootFlow, bootFlowId, loadLocal, startLocalProcesses } from './cluster.js';
import { sleep } from './processes.js';

/** kill -9 of the node's postmaster, repmgrd and node worker, all at once, by pid. */
export async function localKill(dir: string, node: string, say: (s: string) => void = console.log): Promise<number> {
  const { l, config } = loadLocal(dir);
  const p = nodePaths(config, findNode(config, node));
  const pids = [
    ['postgres', postmasterStatus(p.dataDir)?.pid],
    ['repmgrd', readPidFile(p.repmgrdPid)],
    ['node worker', readPidFile(join(l.pidDir, `${node}-worker.pid`))],
  ] as const;
  for (const [what, pid] of pids) {
    if (pid && isAlive(pid)) {
      process.kill(pid, 'SIGKILL');
      say(`killed ${what} of ${node} (pid ${pid})`);
    }
  }
  for (const [, pid] of pids) for (let i = 0; i < 50 && pid && isAlive(pid); i++) await sleep(50);
  return 0;
}

/** Start the node's worker; it runs the first start or the restart decision. Exit 0 once the node runs in its role. */
export async function localStart(dir: string, node: string, say: (s: string) => void = console.log, timeoutMs = 300_000): Promise<number> {
  const { l, config } = loadLocal(dir);
  const since = Date.now();
  startLocalProcesses(l, config, say, [`${node}-worker`]);
  let flowId: string;
  try {
    flowId = await bootFlowId(config, node, since);
  } catch (err) {
    say(`${(err as Error).message}; see ${join(l.logDir, `${node}-worker.log`)}`);
    return 1;
  }
  if (!flowId) {
    say(`${node} already runs`);
    return 0;
  }
  const flow = bootFlow(config, node, flowId);
  const connection = redisConnection(config.redis);
  try {
    say(`flow ${flowId}`);
    // the first refusal is the answer for whoever waits: the flow itself keeps retrying
    const result = await watchFlows(connection, [flow], { timeoutMs, failFast: true, onStep: (s) => say(`  ✓ ${s.step}`) });
    if (!result.ok) {
      say(`${node} did not start: ${result.failed!.failedReason}`);
      return 1;
    }
    const decision = result.states.find((s) => s.step === 'decide-and-start');
    say(`${node} runs${decision?.returnValue ? `: ${(decision.returnValue as { action: string }).action}` : ''}`);
    return 0;
  } finally {
    connection.disconnect();
  }
}
